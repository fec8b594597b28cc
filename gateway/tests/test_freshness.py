"""The two caches' staleness rules on a clock the test moves (decision 0702): ``RefreshingCache``
(the services' public answers) and ``PageCache`` (anonymous pages)."""

from __future__ import annotations

import asyncio

from gateway.freshness import RefreshingCache
from gateway.pagecache import PLACEHOLDER, PageCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


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


def test_a_kept_page_is_re_rendered_by_one_request_and_never_served_past_its_bound() -> None:
    clock = Clock()
    pages = PageCache(5, 5, clock=clock)
    key = ("/products/x", b"")
    assert pages.lookup(key) is None
    assert pages.store(key, f"<input value={PLACEHOLDER}>", "x") is True
    assert pages.store(("/", b""), "<p>home</p>", None) is False
    clock.now += 4.9
    assert pages.lookup(key) is not None
    clock.now += 0.2  # stale: the first request re-renders, the others get the kept page meanwhile
    assert pages.lookup(key) is None
    assert all(pages.lookup(key) is not None for _ in range(5))
    assert pages.stats.refreshes == 1
    pages.end_refresh(key)  # that re-render stored nothing: the next request tries
    assert pages.lookup(key) is None
    clock.now += 5  # fresh + stale passed: never served, whoever is re-rendering
    assert pages.peek(key) is None and pages.lookup(key) is None
