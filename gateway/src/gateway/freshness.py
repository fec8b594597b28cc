"""Stale-while-revalidate with single-flight for the public answers the gateway caches (decision 0702).

``RefreshingCache.get(key, load)`` answers a value loaded less than ``fresh_seconds`` ago as it is.
A value older than that but younger than ``fresh_seconds + stale_seconds`` is answered at once too,
and ONE refresh per key is started in the background (a second request while it runs starts none).
A value older than that, or none, is loaded on the request's path, and concurrent requests for the
same key wait for that one load instead of each asking the service (no stampede when an entry
expires under load). So a reader sees a value at most ``fresh_seconds + stale_seconds`` (plus one
load's duration) old, and under steady traffic about ``fresh_seconds``.

A load whose result ``keep`` refuses (an error, a not-found) is answered to the requests that waited
for it but not stored; a refresh that fails leaves the old value in place until its stale window ends.
Per process, bounded by ``max_entries`` (the oldest-loaded go first).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RefreshingCache(Generic[K, V]):
    def __init__(self, fresh_seconds: float, stale_seconds: float, *, max_entries: int = 1024,
                 keep: Callable[[V], bool] = lambda _: True, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self.max_entries = max_entries
        self._keep = keep
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}  # key -> (loaded at, value), oldest-loaded first
        self._flights: dict[K, asyncio.Task[V]] = {}  # key -> the one load in flight
        self.loads = 0  # how many loads were started (tests, operators)

    @property
    def enabled(self) -> bool:
        return self.fresh_seconds > 0

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        if not self.enabled:
            self.loads += 1
            return await load()
        entry = self._entries.get(key)
        if entry is not None:
            loaded_at, value = entry
            age = self._clock() - loaded_at
            if age < self.fresh_seconds:
                return value
            if age < self.fresh_seconds + self.stale_seconds:
                if key not in self._flights:
                    self._start(key, load).add_done_callback(_log_failure)
                return value
            del self._entries[key]
        flight = self._flights.get(key) or self._start(key, load)
        # shield: a waiter that is cancelled (its client went away) does not cancel the others' load
        return await asyncio.shield(flight)

    def _start(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        async def run() -> V:
            try:
                value = await load()
                if self._keep(value):
                    self._put(key, value)
                return value
            finally:
                self._flights.pop(key, None)

        self.loads += 1
        task = asyncio.get_running_loop().create_task(run())
        self._flights[key] = task
        return task

    def _put(self, key: K, value: V) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock(), value)

    def invalidate(self, key: K | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a background refresh failed", extra={"error": repr(task.exception())})
