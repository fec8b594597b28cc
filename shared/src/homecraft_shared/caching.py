"""Small per-process caches for values that may be a few seconds stale (mechanisms, no business rules).

Both are per process and per instance (nothing is shared between replicas or workers), bounded by
``max_entries`` (beyond that the oldest-loaded entries are dropped), and disabled by a lifetime of 0
(or less): then every read loads.

``TTLCache`` keeps each value for ``ttl_seconds`` after it was loaded: what a caller reads can be up
to ``ttl_seconds`` old, which is the whole staleness bound. Concurrent misses for the same key each
load (no single-flight): a miss costs what the uncached read did, and with a TTL of seconds that
happens a handful of times per key per TTL, not per request. Loaders run in the caller's own context
(its session, its transaction); a failed load caches nothing.

``RefreshingCache`` is stale-while-revalidate with single-flight, for reads whose loader needs nothing
of the caller (a public HTTP answer, say): ``get(key, load)`` answers a value loaded less than
``fresh_seconds`` ago as it is. A value older than that but younger than ``fresh_seconds +
stale_seconds`` is answered at once too, and ONE refresh per key is started in the background (a
second request while it runs starts none). A value older than that, or none, is loaded on the
request's path, and concurrent requests for the same key wait for that one load instead of each
loading (no stampede when an entry expires under load). So a reader sees a value at most
``fresh_seconds + stale_seconds`` (plus one load's duration) old, and under steady traffic about
``fresh_seconds``. A load whose result ``keep`` refuses (an error answer, a not-found) is answered to
the requests that waited for it but not stored; a refresh that fails (or raises) leaves the old value
in place until its stale window ends. ``put`` stores a value the caller loaded itself (a fresher
read), ``invalidate`` forgets one.
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


class _Entries(Generic[K, V]):
    """The bounded store both caches keep: key -> (loaded at, value), oldest-loaded first."""

    def __init__(self, lifetime: float, max_entries: int, clock: Callable[[], float]) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._lifetime = lifetime
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    @property
    def enabled(self) -> bool:
        return self._lifetime > 0

    def _store(self, key: K, value: V) -> None:
        if not self.enabled:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock(), value)

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key``, or everything when no key is given."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class TTLCache(_Entries[K, V]):
    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(ttl_seconds, max_entries, clock)
        self.ttl_seconds = ttl_seconds

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a fresh entry, else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        loaded_at, value = entry
        if self._clock() - loaded_at >= self.ttl_seconds:
            del self._entries[key]
            return False, None
        return True, value

    def put(self, key: K, value: V) -> None:
        self._store(key, value)

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value of ``key`` if fresh, else ``await load()`` (cached when enabled)."""
        if self.enabled:
            hit, value = self.get(key)
            if hit:
                return value  # type: ignore[return-value]
        loaded = await load()
        self.put(key, loaded)
        return loaded


class RefreshingCache(_Entries[K, V]):
    def __init__(self, fresh_seconds: float, stale_seconds: float, *, max_entries: int = 1024,
                 keep: Callable[[V], bool] = lambda _: True, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(fresh_seconds, max_entries, clock)
        self.fresh_seconds = fresh_seconds
        self.stale_seconds = stale_seconds
        self._keep = keep
        self._flights: dict[K, asyncio.Task[V]] = {}  # key -> the one load in flight
        self.loads = 0  # how many loads were started (tests, operators)

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

    def put(self, key: K, value: V) -> None:
        """Keep a value the caller loaded itself (fresher than what is kept), if ``keep`` accepts it."""
        if self._keep(value):
            self._store(key, value)

    def _start(self, key: K, load: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        async def run() -> V:
            try:
                value = await load()
                self.put(key, value)
                return value
            finally:
                self._flights.pop(key, None)

        self.loads += 1
        task = asyncio.get_running_loop().create_task(run())
        self._flights[key] = task
        return task


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a background refresh failed", extra={"error": repr(task.exception())})
