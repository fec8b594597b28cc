"""TTLCache: values live for the TTL, then reload; 0 disables; bounded size."""

from __future__ import annotations

import pytest

from homecraft_shared.caching import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_value_is_reused_until_it_expires_then_reloaded() -> None:
    clock, load = Clock(), Loader()
    cache: TTLCache[str, int] = TTLCache(5.0, clock=clock)
    assert await cache.get_or_load("k", load) == 1
    clock.now += 4.9
    assert await cache.get_or_load("k", load) == 1
    clock.now += 0.1  # exactly the TTL: expired
    assert await cache.get_or_load("k", load) == 2
    assert load.calls == 2


async def test_keys_are_independent() -> None:
    clock, load = Clock(), Loader()
    cache: TTLCache[tuple[str, int], int] = TTLCache(5.0, clock=clock)
    assert await cache.get_or_load(("a", 1), load) == 1
    assert await cache.get_or_load(("a", 2), load) == 2
    assert await cache.get_or_load(("a", 1), load) == 1


async def test_zero_ttl_disables_the_cache() -> None:
    load = Loader()
    cache: TTLCache[str, int] = TTLCache(0)
    assert not cache.enabled
    assert [await cache.get_or_load("k", load) for _ in range(3)] == [1, 2, 3]
    assert len(cache) == 0


async def test_invalidate_one_key_or_all() -> None:
    load = Loader()
    cache: TTLCache[str, int] = TTLCache(60.0)
    await cache.get_or_load("a", load)
    await cache.get_or_load("b", load)
    cache.invalidate("a")
    assert await cache.get_or_load("a", load) == 3
    assert await cache.get_or_load("b", load) == 2
    cache.invalidate()
    assert len(cache) == 0


async def test_oldest_entries_are_dropped_beyond_max_entries() -> None:
    load = Loader()
    cache: TTLCache[str, int] = TTLCache(60.0, max_entries=2)
    for key in ("a", "b", "c"):
        await cache.get_or_load(key, load)
    assert len(cache) == 2
    assert cache.get("a") == (False, None)
    assert cache.get("c") == (True, 3)


async def test_a_failed_load_caches_nothing() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0)

    async def boom() -> int:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", boom)
    assert cache.get("k") == (False, None)


def test_max_entries_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        TTLCache(1.0, max_entries=0)
