"""The ingestion buffer: requests only append to memory; a background loop writes batches.

Recording is best effort (E1): the endpoint answers 202 at once, whatever the database is doing,
and a full buffer drops new events (counted) instead of slowing the caller. Each flush writes up to
``max_batch`` events in one transaction. What is still in memory when a process dies is lost: an
accepted trade-off for view counts (docs/decisions/0501).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engagement.ingestion import service
from engagement.ingestion.domain import Incoming

logger = logging.getLogger(__name__)


@dataclass
class BufferStats:
    received: int = 0
    recorded: int = 0
    throttled: int = 0
    unknown_product: int = 0
    dropped_full: int = 0
    dropped_failed: int = 0
    batches: int = 0


@dataclass
class IngestionBuffer:
    sessionmaker: async_sessionmaker[AsyncSession]
    session_life: dt.timedelta
    max_pending: int = 100_000
    max_batch: int = 2_000
    flush_seconds: float = 0.25
    stats: BufferStats = field(default_factory=BufferStats)

    def __post_init__(self) -> None:
        self._pending: deque[Incoming] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writing = 0

    def offer(self, events: Iterable[Incoming]) -> int:
        """Queue events; returns how many were queued (the rest dropped: the buffer is full)."""
        queued = 0
        for event in events:
            if len(self._pending) >= self.max_pending:
                self.stats.dropped_full += 1
                continue
            self._pending.append(event)
            queued += 1
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        return queued

    @property
    def pending(self) -> int:
        """Events queued or being written."""
        return len(self._pending) + self._writing

    async def flush(self) -> None:
        """Write everything queued so far (batch by batch)."""
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
                self._writing = len(batch)
                try:
                    await self._write(batch)
                finally:
                    self._writing = 0

    async def _write(self, batch: list[Incoming]) -> None:
        try:
            async with self.sessionmaker() as session:
                outcome = await service.record_batch(session, batch, session_life=self.session_life)
                await session.commit()
        except Exception:
            # Best effort (E1): a failed batch is dropped and counted, never retried into a backlog.
            logger.exception("engagement batch could not be recorded", extra={"events": len(batch)})
            self.stats.dropped_failed += len(batch)
            return
        self.stats.batches += 1
        self.stats.received += outcome.received
        self.stats.recorded += outcome.recorded
        self.stats.throttled += outcome.throttled
        self.stats.unknown_product += outcome.unknown_product

    async def run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()
