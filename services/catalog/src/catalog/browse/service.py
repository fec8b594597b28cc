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
from catalog.browse.repository import BrowseRepository, CardRow
from catalog.browse.schemas import (
    BrowseResult,
    CategoryChip,
    CategoryPage,
    CategoryRef,
    HomeBuckets,
    PhysicalSpecs,
    ProductCard,
    ProductDetail,
    RatingSummary,
)
from catalog.browse.search import search_terms
from catalog.buyability import can_buy
from catalog.images.domain import image_url, primary_first
from catalog.images.schemas import ImageOut
from catalog.models import CatalogType, Category
from catalog.ratings import rating_avg
from homecraft_shared.errors import NotFound


@dataclass
class Listing:
    items: list[ProductCard]
    total: int
    total_exact: bool
    has_next: bool
    notice: str | None

    def page_fields(self, window: PageWindow) -> dict[str, Any]:
        """The fields every list response has (``schemas.Page``) plus the fallback notice."""
        return {"items": self.items, "page": window.page, "page_size": window.page_size, "total": self.total,
                "total_exact": self.total_exact, "has_next": self.has_next, "notice": self.notice}


def _ref(category: Category) -> CategoryRef:
    return CategoryRef(id=category.id, name=category.name, slug=category.slug, type=category.type)


class BrowseService:
    def __init__(self, repository: BrowseRepository) -> None:
        self.repo = repository

    # -- cards -----------------------------------------------------------------------------------

    async def _cards(self, rows: list[CardRow], top_ids: AbstractSet[uuid.UUID]) -> list[ProductCard]:
        images = await self.repo.primary_image_keys([row.id for row in rows])
        return [self._card(row, top_ids, images) for row in rows]

    @staticmethod
    def _card(row: CardRow, top_ids: AbstractSet[uuid.UUID], images: dict[uuid.UUID, str]) -> ProductCard:
        key = images.get(row.id)
        return ProductCard(
            **ProductCard.fields_of(row),
            category_id=row.category_id,
            image_url=image_url(key) if key else None,
            rating_avg=rating_avg(row.rating_sum, row.rating_count),
            rating_count=row.rating_count,
            trending_badge=domain.trending_badge(row, top_ids),
            can_buy=row.can_buy,
        )

    async def _top_ids(self) -> AbstractSet[uuid.UUID]:
        # Once per request, over every visible product, so home, browse, category and product pages
        # all badge the same products (C7).
        return await self.repo.top_trending_ids(domain.TRENDING_BADGE_TOP_N)

    async def _list(self, flt: ProductFilter, sort: Sort, window: PageWindow) -> Listing:
        notice = None
        if sort is Sort.TOP:
            qualified = replace(flt, min_reviews=domain.MIN_REVIEWS_TOP_RATED)
            if await self.repo.exists(qualified):
                flt = qualified
            else:  # C5: nothing has enough reviews: everything, in the same order, with a notice
                notice = domain.TOP_RATED_FALLBACK_NOTICE
        total, exact = await self.repo.count(flt, cap=domain.SEARCH_COUNT_CAP if flt.search else None)
        rows: list[CardRow] = []
        if window.offset < total or not exact:
            # One more than the page: whether a next page exists, even where the total is capped.
            rows = await self.repo.cards(flt, sort, limit=window.page_size + 1, offset=window.offset)
        has_next = len(rows) > window.page_size
        rows = rows[: window.page_size]
        # C5: no signal at all (which includes no product at all) shows the notice.
        if sort is Sort.TRENDING and (not total or not await self._has_trending_signal(flt, rows)):
            notice = domain.TRENDING_NO_SIGNAL_NOTICE
        items = await self._cards(rows, await self._top_ids())
        return Listing(items=items, total=total, total_exact=exact, has_next=has_next, notice=notice)

    async def _has_trending_signal(self, flt: ProductFilter, rows: list[CardRow]) -> bool:
        if any(row.trending_score > 0 or row.is_trending for row in rows):
            return True
        return await self.repo.exists(replace(flt, trending_signal=True))

    # -- browse and search (C5) ------------------------------------------------------------------

    async def browse(
        self, *, kind: CatalogType | None, q: str | None, sort: Sort | None, window: PageWindow
    ) -> BrowseResult:
        query = (q or "").strip() or None
        resolved = domain.resolve_sort(sort, has_query=query is not None)
        flt = ProductFilter(kind=kind, search=query is not None, terms=tuple(search_terms(query)))
        listing = await self._list(flt, resolved, window)
        return BrowseResult(**listing.page_fields(window), kind=kind, q=query, sort=resolved)

    # -- home (C6) -------------------------------------------------------------------------------

    async def home(self) -> HomeBuckets:
        size = domain.HOME_BUCKET_SIZE
        top_ids = await self._top_ids()
        featured = await self.repo.cards(ProductFilter(featured=True), Sort.NEW, limit=size)
        new = await self.repo.cards(ProductFilter(), Sort.NEW, limit=size)
        manual = await self.repo.cards(ProductFilter(manual_trending=True), Sort.NEW, limit=size)
        computed: list[CardRow] = []
        if len(manual) < size:
            computed = await self.repo.cards(
                ProductFilter(manual_trending=False, positive_score=True), Sort.TRENDING, limit=size - len(manual)
            )
        trending = domain.trending_bucket(manual, computed, size)
        shown = domain.shown_ids(featured, new, trending)
        misc = await self.repo.cards(ProductFilter(exclude_ids=tuple(shown)), Sort.NEW, limit=size)
        images = await self.repo.primary_image_keys(list(shown | {row.id for row in misc}))

        def cards(rows: list[CardRow]) -> list[ProductCard]:
            return [self._card(row, top_ids, images) for row in rows]

        return HomeBuckets(featured=cards(featured), new=cards(new), trending=cards(trending), misc=cards(misc))

    # -- categories (C8) -------------------------------------------------------------------------

    async def category_page(self, category_id: int, *, sort: Sort, window: PageWindow) -> CategoryPage:
        category = await self.repo.visible_category(category_id)
        if category is None:
            raise NotFound(f"No active category {category_id}.")
        children = await self.repo.active_children(category.id)
        counts = await self.repo.counts_by_category([child.id for child in children])
        flt = ProductFilter(category_ids=(category.id, *(child.id for child in children)))
        listing = await self._list(flt, sort, window)
        return CategoryPage(
            category=_ref(category),
            parent=_ref(category.parent) if category.parent is not None else None,
            children=[CategoryChip(**_ref(c).model_dump(), product_count=counts.get(c.id, 0)) for c in children],
            sort=sort,
            **listing.page_fields(window),
        )

    # -- product page (C9) -----------------------------------------------------------------------

    async def product_page(self, product_id: uuid.UUID) -> ProductDetail:
        product = await self.repo.visible_product(product_id)
        if product is None:
            raise NotFound("No such product, or it is not listed.")
        top_ids = await self._top_ids()
        payout_ready = await self.repo.seller_payout_ready(product.seller_id)
        seller_rating = await self.repo.seller_rating(product.seller_id)
        more = await self.repo.cards(
            ProductFilter(kind=product.kind, category_ids=(product.category_id,), exclude_ids=(product.id,)),
            Sort.NEW,
            limit=domain.MORE_LIKE_THIS_SIZE,
        )
        if not more:  # no other product in its category: same kind anywhere
            more = await self.repo.cards(
                ProductFilter(kind=product.kind, exclude_ids=(product.id,)), Sort.NEW, limit=domain.MORE_LIKE_THIS_SIZE
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
                avg=rating_avg(seller_rating.rating_sum, seller_rating.rating_count) if seller_rating else None,
                count=seller_rating.rating_count if seller_rating else 0,
            ),
            license_text=product.license_text if is_file else None,
            physical_specs=None if is_file else PhysicalSpecs(
                material=product.material, color=product.color,
                width_mm=product.width_mm, height_mm=product.height_mm, depth_mm=product.depth_mm,
            ),
            assets=[AssetSummary.model_validate(asset) for asset in product.assets] if is_file else [],
            trending_badge=domain.trending_badge(product, top_ids),
            can_buy=can_buy(seller_payout_ready=payout_ready, seller_is_owner=product.seller_is_owner),
            published_at=product.published_at,
            more_like_this=await self._cards(more, top_ids),
        )
