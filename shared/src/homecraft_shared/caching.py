"""A small per-process cache for values that may be a few seconds stale (a mechanism, no business rules).

``TTLCache`` keeps each value for ``ttl_seconds`` after it was loaded; a ``ttl_seconds`` of 0 (or less)
disables it, so every ``get_or_load`` loads. It is per process and per instance (nothing is shared
between replicas or workers): what a caller reads can be up to ``ttl_seconds`` old, which is the whole
staleness bound. Entries are bounded by ``max_entries``; beyond that the oldest-loaded are dropped.

Concurrent misses for the same key each load (no single-flight): a miss costs what the uncached read
did, and with a TTL of seconds that happens a handful of times per key per TTL, not per request.
Loaders run in the caller's own context (its session, its transaction); a failed load caches nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}  # key -> (expires at, value), oldest-loaded first

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def get(self, key: K) -> tuple[bool, V | None]:
        """(True, value) for a fresh entry, else (False, None)."""
        entry = self._entries.get(key)
        if entry is None:
            return False, None
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return False, None
        return True, value

    def put(self, key: K, value: V) -> None:
        if not self.enabled:
            return
        self._entries.pop(key, None)
        while len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (self._clock() + self.ttl_seconds, value)

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value of ``key`` if fresh, else ``await load()`` (cached when enabled)."""
        if self.enabled:
            hit, value = self.get(key)
            if hit:
                return value  # type: ignore[return-value]
        loaded = await load()
        self.put(key, loaded)
        return loaded

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key``, or everything when no key is given."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
