"""The read side's rules, free of the web framework and the database (C5-C10).

Constants, the sort names and their fallbacks, the trending badge rule, buyability, and the home
page's bucket assembly. The repository fetches, ``service`` orchestrates, this decides.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Protocol, TypeVar

from catalog.models import CatalogType

HOME_BUCKET_SIZE = 8  # C6
TRENDING_BADGE_TOP_N = 12  # C7
MIN_REVIEWS_TOP_RATED = 3  # C5
MORE_LIKE_THIS_SIZE = 8  # C9
DEFAULT_PAGE_SIZE = 24
MAX_PAGE_SIZE = 60
MAX_PAGE = 10_000
MAX_QUERY_LENGTH = 200
MAX_ID = 2**31 - 1  # ids and cents are int32 in the database
MAX_PRICE_CENTS = 2**31 - 1
# A search's total is counted up to this many matches (counting them all would cost as much as
# ranking them all); beyond it the total reads 1000 with total_exact false, and has_next still works.
SEARCH_COUNT_CAP = 1000

TOP_RATED_FALLBACK_NOTICE = (
    f"No product has {MIN_REVIEWS_TOP_RATED} or more reviews yet, so all products are shown by rating."
)
TRENDING_NO_SIGNAL_NOTICE = "Nothing is trending yet, so products are shown by rating, then newest first."


class Sort(enum.StrEnum):
    NEW = "new"  # created, newest first
    TRENDING = "trending"  # C7: score, then avg rating, then newest
    TOP = "top"  # avg rating, then review count, then newest; >= 3 reviews unless none qualify
    RELEVANCE = "relevance"  # full-text rank (only with a search query)


class SortNeedsQuery(ValueError):
    pass


def resolve_sort(requested: Sort | None, has_query: bool) -> Sort:
    """Relevance is the default with a search query and is meaningless without one; else newest first."""
    if requested is None:
        return Sort.RELEVANCE if has_query else Sort.NEW
    if requested is Sort.RELEVANCE and not has_query:
        raise SortNeedsQuery("sort=relevance needs a search query (q)")
    return requested


@dataclass(frozen=True)
class ProductFilter:
    """Which visible products a list covers.

    ``search`` True means a full-text search for ``terms``; with no terms (the query had no letters
    or digits) it matches nothing. ``None`` flags mean "either way".
    """

    kind: CatalogType | None = None
    category_ids: tuple[int, ...] | None = None
    search: bool = False
    terms: tuple[str, ...] = ()
    exclude_ids: tuple[uuid.UUID, ...] = ()
    featured: bool | None = None
    manual_trending: bool | None = None
    positive_score: bool = False
    min_reviews: int | None = None
    trending_signal: bool = False  # a score above 0 or the manual flag
    # Refinements a shop's search offers (answered by the search projection, catalog.search).
    is_free: bool | None = None
    can_buy: bool | None = None
    price_min_cents: int | None = None
    price_max_cents: int | None = None


@dataclass(frozen=True)
class PageWindow:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size



class TrendingFacts(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def is_trending(self) -> bool: ...


def trending_badge(product: TrendingFacts, top_ids: AbstractSet[uuid.UUID]) -> bool:
    """C7: manually trending, or in the top 12 by score with a score above 0 (``top_ids`` holds only those)."""
    return bool(product.is_trending) or product.id in top_ids


T = TypeVar("T", bound=TrendingFacts)


def trending_bucket(manual: Sequence[T], computed: Sequence[T], size: int = HOME_BUCKET_SIZE) -> list[T]:
    """C6: manually trending first, then the computed fill (which must already exclude manual ones)."""
    bucket = list(manual[:size])
    manual_ids = {p.id for p in bucket}
    bucket.extend(p for p in computed if p.id not in manual_ids)
    return bucket[:size]


def shown_ids(*buckets: Iterable[TrendingFacts]) -> set[uuid.UUID]:
    return {p.id for bucket in buckets for p in bucket}
