"""Pruning what ingestion leaves behind: throttle marks past their block, raw events past their
retention (the daily aggregates, which everything reads, are kept)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engagement.ingestion import repository
from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow

logger = logging.getLogger(__name__)


async def prune(session: AsyncSession, now: dt.datetime, raw_event_retention: dt.timedelta) -> tuple[int, int]:
    marks = await repository.prune_throttle_marks(session, int(now.timestamp()))
    events = await repository.prune_raw_events(session, now - raw_event_retention)
    return marks, events


async def run_pruner(sessionmaker: async_sessionmaker[AsyncSession], raw_event_retention: dt.timedelta,
                     interval_seconds: float) -> None:
    async def one_round() -> int:
        async with sessionmaker() as session:
            marks, events = await prune(session, utcnow(), raw_event_retention)
            await session.commit()
        if marks or events:
            logger.info("engagement pruned", extra={"throttle_marks": marks, "raw_events": events})
        return marks + events

    # The first round after one interval: nothing has expired at start-up.
    await run_passes(one_round, poll_seconds=interval_seconds, logger=logger, first_after_poll=True,
                     failure_message="engagement pruning failed; retrying next round")
