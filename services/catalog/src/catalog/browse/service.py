"""Orchestration of the read side: the repository fetches, ``domain`` decides, this assembles the
responses. Read-only: nothing here writes or commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import Any

from catalog.assets.schemas import AssetSummary
from catalog.browse import domain
from catalog.browse.domain import PageWindow, ProductFilter, Sort
from catalog.browse.repository import BrowseRepository
from catalog.browse.schemas import (
    BrowseResult,
    CategoryChip,
    CategoryPage,
    CategoryRef,
    FacetCount,
    Facets,
    HomeBuckets,
    PhysicalSpecs,
    ProductCard,
    ProductDetail,
    RatingSummary,
)
from catalog.browse.search import search_terms
from catalog.images.domain import image_url, primary_first
from catalog.images.schemas import ImageOut
from catalog.models import CatalogType, Category
from catalog.ratings import rating_avg
from catalog.search.categories import CategoryNode
from catalog.search.index import Card as IndexCard
from catalog.search.index import Sort as IndexSort
from catalog.search.query import Filters
from catalog.search.service import SearchReader
from homecraft_shared.errors import NotFound


@dataclass
class Listing:
    items: list[ProductCard]
    total: int
    total_exact: bool
    has_next: bool
    notice: str | None
    facets: Facets | None = None

    def page_fields(self, window: PageWindow) -> dict[str, Any]:
        """The fields every list response has (``schemas.Page``) plus the fallback notice."""
        return {"items": self.items, "page": window.page, "page_size": window.page_size, "total": self.total,
                "total_exact": self.total_exact, "has_next": self.has_next, "notice": self.notice}


def _ref(category: Category) -> CategoryRef:
    return CategoryRef(id=category.id, name=category.name, slug=category.slug, type=category.type)


def _node_ref(category: CategoryNode) -> CategoryRef:
    return CategoryRef(id=category.id, name=category.name, slug=category.slug, type=CatalogType(category.type))


# The browse sorts as the search projection orders them (catalog.search.index.Sort).
_INDEX_SORT = {
    Sort.NEW: IndexSort.NEW, Sort.TRENDING: IndexSort.TRENDING, Sort.TOP: IndexSort.TOP,
    Sort.RELEVANCE: IndexSort.RELEVANCE,
}


def index_filters(flt: ProductFilter, hidden_category_ids: tuple[int, ...]) -> Filters:
    """A list's filter in the search projection's terms; hidden categories are excluded there (C5)."""
    return Filters(
        kind=flt.kind.value if flt.kind is not None else None, category_ids=flt.category_ids,
        hidden_category_ids=hidden_category_ids, exclude_ids=flt.exclude_ids, is_free=flt.is_free,
        can_buy=flt.can_buy, price_min_cents=flt.price_min_cents, price_max_cents=flt.price_max_cents,
        featured=flt.featured, manual_trending=flt.manual_trending, positive_score=flt.positive_score,
        min_reviews=flt.min_reviews, trending_signal=flt.trending_signal,
    )


@dataclass(frozen=True)
class Refinements:
    """A search's or list's optional narrowing (category, free, can-buy, price) and its facet counts."""

    category_id: int | None = None
    is_free: bool | None = None
    can_buy: bool | None = None
    price_min_cents: int | None = None
    price_max_cents: int | None = None
    facets: bool = False


class BrowseService:
    """Lists, searches, home buckets and category pages are read from the search projection
    (``catalog.search``): the index snapshot a request reads holds the products, the category tree
    and every result computed over it, so a warm page needs no database statement and nothing it
    shows is older than the snapshot (about one poll of the change log). Product pages read their
    own row from the database."""

    def __init__(self, repository: BrowseRepository | None, search: SearchReader) -> None:
        self.repo = repository
        self.search = search

    # -- cards -----------------------------------------------------------------------------------

    @staticmethod
    def _card(card: IndexCard, top_ids: AbstractSet[uuid.UUID], snippet: str | None = None) -> ProductCard:
        return ProductCard(
            **ProductCard.fields_of(card),
            category_id=card.category_id,
            image_url=image_url(card.image_key) if card.image_key else None,
            rating_avg=rating_avg(card.rating_sum, card.rating_count),
            rating_count=card.rating_count,
            trending_badge=domain.trending_badge(card, top_ids),
            can_buy=card.can_buy,
            snippet=snippet,
        )

    async def _hidden(self) -> tuple[int, ...]:
        """C5: inactive categories and the children of inactive roots, as of the index snapshot."""
        return self.search.categories.hidden_ids

    async def _top_ids(self) -> AbstractSet[uuid.UUID]:
        """C7: the top 12 visible products by score with a score above 0, over the whole catalog, so home,
        browse, category and product pages all badge the same products (once per index snapshot)."""
        hidden = await self._hidden()

        def load() -> frozenset[uuid.UUID]:
            page = self.search.page(Filters(hidden_category_ids=hidden, positive_score=True), None,
                                    IndexSort.TRENDING, 0, domain.TRENDING_BADGE_TOP_N)
            return frozenset(hit.id for hit in page.hits)

        return self.search.remember(("top_ids", domain.TRENDING_BADGE_TOP_N), load)

    async def _rows(self, flt: ProductFilter, sort: Sort, limit: int, offset: int = 0) -> list[IndexCard]:
        page = self.search.page(index_filters(flt, await self._hidden()), flt.terms if flt.search else None,
                                _INDEX_SORT[sort], offset, limit)
        return self.search.cards(page.hits)

    async def _exists(self, flt: ProductFilter) -> bool:
        """Whether any product qualifies (counted once per index snapshot and filter)."""
        filters = index_filters(flt, await self._hidden())
        return self.search.exists(filters, flt.terms if flt.search else None)

    async def _list(self, flt: ProductFilter, sort: Sort, window: PageWindow, *, facets: bool = False) -> Listing:
        notice = None
        if sort is Sort.TOP:
            qualified = replace(flt, min_reviews=domain.MIN_REVIEWS_TOP_RATED)
            if await self._exists(qualified):
                flt = qualified
            else:  # C5: nothing has enough reviews: everything, in the same order, with a notice
                notice = domain.TOP_RATED_FALLBACK_NOTICE
        filters = index_filters(flt, await self._hidden())
        terms = flt.terms if flt.search else None
        # One more than the page: whether a next page exists, even where the total is capped.
        page = self.search.page(filters, terms, _INDEX_SORT[sort], window.offset, window.page_size + 1,
                                count_cap=domain.SEARCH_COUNT_CAP if flt.search else None)
        if flt.search:
            # Counted exactly up to the documented cap (0110), beyond it possibly not (0111).
            total, exact = min(page.total, domain.SEARCH_COUNT_CAP), page.total <= domain.SEARCH_COUNT_CAP
        else:
            total, exact = page.total, True
        hits = page.hits[: window.page_size]
        has_next = len(page.hits) > window.page_size
        rows = self.search.cards(hits)
        # C5: no signal at all (which includes no product at all) shows the notice.
        if sort is Sort.TRENDING and (not total or not await self._has_trending_signal(flt, rows)):
            notice = domain.TRENDING_NO_SIGNAL_NOTICE
        snippets = self.search.snippets(terms, hits) if terms else {}
        top_ids = await self._top_ids()
        items = [self._card(row, top_ids, snippets.get(row.id)) for row in rows]
        found_facets = await self._facets(replace(flt, kind=None, category_ids=None), terms) if facets else None
        return Listing(items=items, total=total, total_exact=exact, has_next=has_next, notice=notice,
                       facets=found_facets)

    async def _facets(self, flt: ProductFilter, terms: tuple[str, ...] | None) -> Facets:
        counts = self.search.facets(index_filters(flt, await self._hidden()), terms)
        by_count = sorted(counts.categories.items(), key=lambda item: (-item[1], item[0]))
        return Facets(
            categories=[FacetCount(value=str(category_id), count=n) for category_id, n in by_count],
            kinds=[FacetCount(value=kind, count=n) for kind, n in sorted(counts.kinds.items())],
        )

    async def _has_trending_signal(self, flt: ProductFilter, rows: list[IndexCard]) -> bool:
        if any(row.trending_score > 0 or row.is_trending for row in rows):
            return True
        return await self._exists(replace(flt, trending_signal=True))

    # -- browse and search (C5) ------------------------------------------------------------------

    async def browse(
        self, *, kind: CatalogType | None, q: str | None, sort: Sort | None, window: PageWindow,
        refine: Refinements = Refinements(),
    ) -> BrowseResult:
        query = (q or "").strip() or None
        resolved = domain.resolve_sort(sort, has_query=query is not None)
        flt = ProductFilter(
            kind=kind, search=query is not None, terms=tuple(search_terms(query)),
            category_ids=(refine.category_id,) if refine.category_id is not None else None,
            is_free=refine.is_free, can_buy=refine.can_buy, price_min_cents=refine.price_min_cents,
            price_max_cents=refine.price_max_cents,
        )
        listing = await self._list(flt, resolved, window, facets=refine.facets)
        return BrowseResult(**listing.page_fields(window), kind=kind, q=query, sort=resolved, facets=listing.facets)

    # -- home (C6) -------------------------------------------------------------------------------

    async def home(self) -> HomeBuckets:
        size = domain.HOME_BUCKET_SIZE
        top_ids = await self._top_ids()
        featured = await self._rows(ProductFilter(featured=True), Sort.NEW, size)
        new = await self._rows(ProductFilter(), Sort.NEW, size)
        manual = await self._rows(ProductFilter(manual_trending=True), Sort.NEW, size)
        computed: list[IndexCard] = []
        if len(manual) < size:
            computed = await self._rows(
                ProductFilter(manual_trending=False, positive_score=True), Sort.TRENDING, size - len(manual)
            )
        trending = domain.trending_bucket(manual, computed, size)
        shown = domain.shown_ids(featured, new, trending)
        misc = await self._rows(ProductFilter(exclude_ids=tuple(shown)), Sort.NEW, size)

        def cards(rows: list[IndexCard]) -> list[ProductCard]:
            return [self._card(row, top_ids) for row in rows]

        return HomeBuckets(featured=cards(featured), new=cards(new), trending=cards(trending), misc=cards(misc))

    # -- categories (C8) -------------------------------------------------------------------------

    async def category_page(self, category_id: int, *, sort: Sort, window: PageWindow) -> CategoryPage:
        """No statement: the category tree and the products are read from the index snapshot."""
        tree = self.search.categories
        category = tree.visible(category_id)
        if category is None:
            raise NotFound(f"No active category {category_id}.")
        children = tree.active_children(category.id)
        hidden = await self._hidden()
        parent = tree.parent(category)
        flt = ProductFilter(category_ids=(category.id, *(child.id for child in children)))
        listing = await self._list(flt, sort, window)
        return CategoryPage(
            category=_node_ref(category),
            parent=_node_ref(parent) if parent is not None else None,
            children=[
                CategoryChip(**_node_ref(c).model_dump(),
                             product_count=self.search.count(index_filters(ProductFilter(category_ids=(c.id,)), hidden)))
                for c in children
            ],
            sort=sort,
            **listing.page_fields(window),
        )

    # -- product page (C9) -----------------------------------------------------------------------

    async def product_page(self, product_id: uuid.UUID) -> ProductDetail:
        assert self.repo is not None, "product pages read the database"
        found = await self.repo.visible_product(product_id, await self._hidden())
        if found is None:
            raise NotFound("No such product, or it is not listed.")
        product = found.product
        top_ids = await self._top_ids()
        more = await self._rows(
            ProductFilter(kind=product.kind, category_ids=(product.category_id,), exclude_ids=(product.id,)),
            Sort.NEW, domain.MORE_LIKE_THIS_SIZE,
        )
        if not more:  # no other product in its category: same kind anywhere
            more = await self._rows(
                ProductFilter(kind=product.kind, exclude_ids=(product.id,)), Sort.NEW, domain.MORE_LIKE_THIS_SIZE
            )
        is_file = product.kind is CatalogType.FILE
        return ProductDetail(
            **ProductDetail.fields_of(product),
            short_description=product.short_description,
            description=product.description,
            is_featured=product.is_featured,
            category=_ref(product.category),
            parent_category=_ref(product.category.parent) if product.category.parent is not None else None,
            images=[ImageOut.of(image) for image in primary_first(product.images)],
            rating=RatingSummary(avg=rating_avg(product.rating_sum, product.rating_count), count=product.rating_count),
            seller_rating=RatingSummary(
                avg=rating_avg(found.seller_rating_sum or 0, found.seller_rating_count or 0),
                count=found.seller_rating_count or 0,
            ),
            license_text=product.license_text if is_file else None,
            physical_specs=None if is_file else PhysicalSpecs(
                material=product.material, color=product.color,
                width_mm=product.width_mm, height_mm=product.height_mm, depth_mm=product.depth_mm,
            ),
            assets=[AssetSummary.model_validate(asset) for asset in product.assets] if is_file else [],
            trending_badge=domain.trending_badge(product, top_ids),
            can_buy=found.can_buy,
            published_at=product.published_at,
            more_like_this=[self._card(row, top_ids) for row in more],
        )
