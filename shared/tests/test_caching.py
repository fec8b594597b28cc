"""TTLCache: values live for the TTL, then reload; 0 disables; bounded size. RefreshingCache: stale
while revalidate with single-flight, on a clock the test moves."""

from __future__ import annotations

import asyncio

import pytest

from homecraft_shared.caching import RefreshingCache, TTLCache


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


# --- RefreshingCache: stale-while-revalidate with single-flight --------------------------------------


async def test_a_stale_answer_is_served_while_one_refresh_per_key_runs() -> None:
    clock = Clock()
    cache: RefreshingCache[str, int] = RefreshingCache(5, 5, clock=clock)
    version = {"value": 1}
    gate = asyncio.Event()
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return version["value"]

    gate.set()
    assert await cache.get("k", load) == 1
    version["value"] = 2
    clock.now += 4.9
    assert await cache.get("k", load) == 1 and calls == 1  # fresh: no call
    clock.now += 0.2  # stale: answered at once, ONE refresh for all of them
    gate.clear()
    assert await asyncio.gather(*(cache.get("k", load) for _ in range(20))) == [1] * 20
    assert calls == 2
    gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await cache.get("k", load) == 2 and calls == 2


async def test_past_its_stale_window_an_answer_is_loaded_once_for_every_waiter() -> None:
    clock = Clock()
    cache: RefreshingCache[str, int] = RefreshingCache(5, 5, clock=clock, keep=lambda v: v > 0)
    answers = iter([1, 2, -1, 3])
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return next(answers)

    assert await cache.get("k", load) == 1
    clock.now += 10  # beyond fresh + stale: never served, the waiters share one load
    assert await asyncio.gather(*(cache.get("k", load) for _ in range(10))) == [2] * 10
    assert calls == 2
    clock.now += 10
    assert await cache.get("k", load) == -1  # refused by keep: answered, not kept
    assert await cache.get("k", load) == 3 and calls == 4


async def test_a_failed_refresh_keeps_the_old_value_until_its_stale_window_ends() -> None:
    clock = Clock()
    cache: RefreshingCache[str, int] = RefreshingCache(5, 5, clock=clock)
    fail = False

    async def load() -> int:
        if fail:
            raise RuntimeError("service down")
        return 1

    assert await cache.get("k", load) == 1
    fail = True
    clock.now += 6  # stale: the background refresh fails, the old value stays
    assert await cache.get("k", load) == 1
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await cache.get("k", load) == 1
    clock.now += 5  # past the window: loaded on the caller's path, and its failure is the caller's
    with pytest.raises(RuntimeError, match="service down"):
        await cache.get("k", load)
    assert len(cache) == 0


async def test_a_waiter_cancelled_does_not_cancel_the_shared_load() -> None:
    cache: RefreshingCache[str, int] = RefreshingCache(5, 5)
    gate = asyncio.Event()

    async def load() -> int:
        await gate.wait()
        return 7

    first = asyncio.ensure_future(cache.get("k", load))
    second = asyncio.ensure_future(cache.get("k", load))
    await asyncio.sleep(0)
    first.cancel()
    gate.set()
    assert await second == 7 and cache.loads == 1


async def test_put_keeps_a_fresher_value_that_keep_accepts_and_invalidate_forgets() -> None:
    clock = Clock()
    cache: RefreshingCache[str, int] = RefreshingCache(5, 5, clock=clock, keep=lambda v: v > 0)
    load = Loader()
    assert await cache.get("k", load) == 1
    cache.put("k", 9)
    assert await cache.get("k", load) == 9
    cache.put("k", -1)  # refused by keep: the kept value stays
    assert await cache.get("k", load) == 9
    cache.invalidate("k")
    assert await cache.get("k", load) == 2 and load.calls == 2


async def test_a_refreshing_cache_of_zero_seconds_loads_every_time_and_is_bounded() -> None:
    off: RefreshingCache[str, int] = RefreshingCache(0, 5)
    load = Loader()
    assert [await off.get("k", load) for _ in range(3)] == [1, 2, 3] and len(off) == 0
    small: RefreshingCache[str, int] = RefreshingCache(60, 5, max_entries=2)
    for key in ("a", "b", "c"):
        await small.get(key, load)
    assert len(small) == 2
    assert await small.get("a", load) == 7  # the oldest was dropped: loaded again
    with pytest.raises(ValueError, match="max_entries"):
        RefreshingCache(1.0, 1.0, max_entries=0)
