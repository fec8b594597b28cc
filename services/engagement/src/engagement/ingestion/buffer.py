"""The ingestion buffer: requests only append to memory; a background loop writes batches
(``homecraft_shared.batching``).

Recording is best effort (E1): the endpoint answers 202 at once, whatever the database is doing,
and a full buffer drops new events (counted) instead of slowing the caller. Each flush writes up to
``max_batch`` events in one transaction. What is still in memory when a process dies is lost: an
accepted trade-off for view counts (docs/decisions/0501).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engagement.ingestion import service
from engagement.ingestion.domain import Incoming
from homecraft_shared.batching import BatchDrain


@dataclass
class RecordedStats:
    """What the written batches did (the drain counts what was queued and dropped)."""

    received: int = 0
    recorded: int = 0
    throttled: int = 0
    unknown_product: int = 0


class IngestionBuffer:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        session_life: dt.timedelta,
        max_pending: int = 100_000,
        max_batch: int = 2_000,
        flush_seconds: float = 0.25,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.session_life = session_life
        self.recorded = RecordedStats()
        self.drain: BatchDrain[Incoming] = BatchDrain(
            self._write, name="engagement-ingestion", max_pending=max_pending, max_batch=max_batch,
            flush_seconds=flush_seconds)

    def offer(self, events: Iterable[Incoming]) -> int:
        """Queue events; returns how many were queued (the rest dropped: the buffer is full)."""
        return self.drain.offer(events)

    @property
    def pending(self) -> int:
        return self.drain.pending

    async def flush(self) -> None:
        await self.drain.flush()

    async def run(self) -> None:
        await self.drain.run()

    async def _write(self, batch: list[Incoming]) -> None:
        # A failure raises: the drain drops and counts the batch (best effort, E1), never retries it.
        async with self.sessionmaker() as session:
            outcome = await service.record_batch(session, batch, session_life=self.session_life)
            await session.commit()
        self.recorded.received += outcome.received
        self.recorded.recorded += outcome.recorded
        self.recorded.throttled += outcome.throttled
        self.recorded.unknown_product += outcome.unknown_product
