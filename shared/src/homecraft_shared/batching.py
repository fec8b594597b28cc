"""A bounded, best-effort, in-memory queue that a background loop drains in batches.

For facts whose loss is acceptable but whose cost on the request path is not (engagement's views and
clicks): a request only appends (``offer``, synchronous, O(1)) and never waits; the loop wakes
every ``flush_seconds``, or as soon as a batch is full, and hands batches to ``write``. A full queue
drops new items, a ``write`` that raises drops its batch; both are counted, neither is retried into a
backlog. What is still queued when the process dies is lost; at a clean stop the loop makes one last
flush, bounded by ``final_flush_seconds``.

This is not the outbox: anything that must not be lost goes through ``homecraft_shared.messaging``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class DrainStats:
    queued: int = 0
    dropped_full: int = 0
    dropped_failed: int = 0
    batches: int = 0  # batches written without an error


class BatchDrain(Generic[T]):
    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        name: str,
        max_pending: int,
        max_batch: int,
        flush_seconds: float,
        final_flush_seconds: float = 2.0,
    ) -> None:
        self.write = write
        self.name = name
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.flush_seconds = flush_seconds
        self.final_flush_seconds = final_flush_seconds
        self.stats = DrainStats()
        self._pending: deque[T] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writing = 0

    def offer(self, items: Iterable[T]) -> int:
        """Queue items; returns how many were queued (the rest were dropped: the queue is full)."""
        queued = 0
        for item in items:
            if len(self._pending) >= self.max_pending:
                self.stats.dropped_full += 1
                continue
            self._pending.append(item)
            queued += 1
        self.stats.queued += queued
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        return queued

    @property
    def pending(self) -> int:
        """Items queued or being written."""
        return len(self._pending) + self._writing

    async def flush(self) -> None:
        """Write everything queued so far, batch by batch (one flush at a time)."""
        async with self._lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(self.max_batch, len(self._pending)))]
                self._writing = len(batch)
                try:
                    await self.write(batch)
                except Exception as exc:
                    self.stats.dropped_failed += len(batch)
                    logger.warning("batch dropped", extra={"drain": self.name, "count": len(batch),
                                                           "error": repr(exc)})
                else:
                    self.stats.batches += 1
                finally:
                    self._writing = 0

    async def run(self) -> None:
        """The background loop; cancel it to stop (it flushes what is left first, bounded)."""
        try:
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives
                # as the wait completes, and the loop would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.flush_seconds):
                        await self._wake.wait()
                self._wake.clear()
                await self.flush()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.flush(), self.final_flush_seconds)
