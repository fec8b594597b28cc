"""The page cache's staleness rules on a clock the test moves (decision 0702). The read cache's
(``homecraft_shared.caching.RefreshingCache``) are tested in the shared library."""

from __future__ import annotations

from gateway.pagecache import PageCache
from gateway.templating import PLACEHOLDER, Shell


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_kept_page_is_re_rendered_by_one_request_and_never_served_past_its_bound() -> None:
    clock = Clock()
    pages = PageCache(5, 5, clock=clock)
    key = ("/products/x", b"")
    assert pages.lookup(key) is None
    assert pages.store(key, Shell(f"<input value={PLACEHOLDER}>"), "x") is True
    assert pages.store(("/", b""), Shell("<p>home</p>"), None) is False
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
