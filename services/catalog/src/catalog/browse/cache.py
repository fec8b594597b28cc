"""Request-independent read facts reused for a few seconds per app instance (``read_cache_seconds``).

Every browse request used to recompute the same facts: the hidden category ids (C5), the top-12
trending badge set (C7) and, for lists without a search, the exact total per filter (and, for the
`top` and `trending` sorts, whether any product of the list qualifies). They change rarely and
nobody can tell a total or a badge that is a few seconds old, so each process keeps them for
``read_cache_seconds`` (5 s by default; 0 disables). That is the whole staleness bound: a category
deactivated, a score recomputed or a product published shows in those facts within that time. The
page's cards themselves are always read fresh.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from catalog.browse.domain import ProductFilter
from homecraft_shared.caching import TTLCache

# Distinct list filters are few (kind x sort qualifier x category page); bounded all the same.
MAX_CACHED_FILTERS = 1024


class BrowseCache:
    def __init__(self, ttl_seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.hidden_categories: TTLCache[None, tuple[int, ...]] = TTLCache(ttl_seconds, max_entries=1, clock=clock)
        self.top_trending: TTLCache[int, frozenset[uuid.UUID]] = TTLCache(ttl_seconds, max_entries=4, clock=clock)
        self.totals: TTLCache[ProductFilter, int] = TTLCache(
            ttl_seconds, max_entries=MAX_CACHED_FILTERS, clock=clock
        )
        self.exists: TTLCache[ProductFilter, bool] = TTLCache(
            ttl_seconds, max_entries=MAX_CACHED_FILTERS, clock=clock
        )

    def clear(self) -> None:
        for cache in (self.hidden_categories, self.top_trending, self.totals, self.exists):
            cache.invalidate()


NO_CACHE = BrowseCache(0)
