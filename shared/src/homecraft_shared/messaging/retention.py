"""Keeping the messaging tables from growing forever.

Published outbox rows are only an audit trail once JetStream has them; inbox rows must outlive any
possible redelivery, so they are kept longer than the stream keeps messages (``STREAM_MAX_AGE``);
replayed dead letters are kept for the operator's history. Unpublished outbox rows and dead letters
that still await a replay are never pruned.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, exists
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from homecraft_shared.messaging.jetstream import STREAM_MAX_AGE_SECONDS
from homecraft_shared.messaging.tables import DeadLetter, InboxEvent, OutboxEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    published_outbox_days: float = 7.0
    inbox_days: float = 45.0
    replayed_dead_letter_days: float = 90.0

    def __post_init__(self) -> None:
        if self.inbox_days * 86400 <= STREAM_MAX_AGE_SECONDS:
            # A message still in the stream could be redelivered after its inbox row was gone.
            raise ValueError(
                f"inbox retention ({self.inbox_days} days) must be longer than the stream's "
                f"{STREAM_MAX_AGE_SECONDS / 86400:.0f} days"
            )


@dataclass(frozen=True)
class PruneResult:
    outbox: int
    inbox: int
    dead_letters: int


async def prune_messaging_tables(
    sessionmaker: async_sessionmaker[AsyncSession], policy: RetentionPolicy, now: dt.datetime | None = None
) -> PruneResult:
    now = now or utcnow()
    async with sessionmaker() as session:
        outbox = await session.execute(
            delete(OutboxEvent).where(
                OutboxEvent.published_at.is_not(None),
                OutboxEvent.published_at < now - dt.timedelta(days=policy.published_outbox_days),
            )
        )
        # An event with a dead letter still waiting for its replay keeps its inbox row: the replay
        # must find it, or an event applied before it was dead-lettered would be applied twice.
        waiting_letter = exists().where(
            DeadLetter.consumer == InboxEvent.consumer,
            DeadLetter.event_id == InboxEvent.event_id,
            DeadLetter.replayed_at.is_(None),
        )
        inbox = await session.execute(
            delete(InboxEvent).where(
                InboxEvent.processed_at < now - dt.timedelta(days=policy.inbox_days), ~waiting_letter
            )
        )
        dead = await session.execute(
            delete(DeadLetter).where(
                DeadLetter.replayed_at.is_not(None),
                DeadLetter.replayed_at < now - dt.timedelta(days=policy.replayed_dead_letter_days),
            )
        )
        await session.commit()
    outbox_rows, inbox_rows, dead_rows = (cast("CursorResult[Any]", result).rowcount for result in (outbox, inbox, dead))
    return PruneResult(outbox_rows, inbox_rows, dead_rows)


async def run_pruner(
    sessionmaker: async_sessionmaker[AsyncSession], policy: RetentionPolicy, interval_seconds: float
) -> None:
    """Prune now and then every ``interval_seconds``; a failed pass is logged and tried next time."""

    async def prune() -> int:
        result = await prune_messaging_tables(sessionmaker, policy)
        if result.outbox or result.inbox or result.dead_letters:
            logger.info("pruned messaging tables", extra=vars(result))
        return result.outbox + result.inbox + result.dead_letters

    await run_passes(prune, poll_seconds=interval_seconds, logger=logger,
                     failure_message="pruning messaging tables failed")
