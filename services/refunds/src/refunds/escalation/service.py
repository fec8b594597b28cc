"""Escalation (beyond the seed): a request its seller has not decided within the configured days goes
to the operator queue, and the buyer is told. The request keeps its status; ``escalated_at`` marks it,
visibly to everyone involved, and the staff queue lists escalated requests first."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from refunds import emails
from refunds.models import RequestTransition
from refunds.requests import repository
from refunds.settings import RefundsSettings

logger = logging.getLogger(__name__)


async def escalate_overdue(session: AsyncSession, settings: RefundsSettings, now: dt.datetime | None = None) -> int:
    """Escalate every request undecided for ``escalate_after_days``; returns how many. Never commits."""
    now = now or utcnow()
    due = await repository.due_for_escalation(session, now - dt.timedelta(days=settings.escalate_after_days))
    for request in due:
        request.escalated_at = now
        session.add(RequestTransition(request_id=request.id, from_status=request.status, to_status=request.status,
                                      actor="system:escalation", note="escalated to the operator queue: no decision "
                                      f"within {settings.escalate_after_days:g} days", at=now))
        await emails.notify_buyer(session, request, "escalated")
    return len(due)


async def run_loop(sessionmaker: async_sessionmaker[AsyncSession], settings: RefundsSettings) -> None:
    async def one_pass() -> int:
        async with sessionmaker() as session:
            if escalated := await escalate_overdue(session, settings):
                logger.info("refund requests escalated", extra={"count": escalated})
            await session.commit()
        return escalated

    await run_passes(one_pass, poll_seconds=settings.escalation_interval_seconds, logger=logger,
                     failure_message="escalation pass failed")
