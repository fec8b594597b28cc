"""Response shapes of the read side. Cards are what every list (browse, home, category, "more like this") returns."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, Field

from catalog.assets.schemas import AssetSummary
from catalog.browse.domain import Sort
from catalog.images.schemas import ImageOut
from catalog.models import CatalogType


class ProductFacts(BaseModel):
    """What every product response says (cards and product pages); ``of`` reads it off a row."""

    id: uuid.UUID
    title: str
    slug: str
    kind: CatalogType
    seller_id: str
    price_cents: int
    currency: str
    is_free: bool
    created_at: dt.datetime

    @classmethod
    def fields_of(cls, source: object) -> dict[str, object]:
        return {name: getattr(source, name) for name in ProductFacts.model_fields}


class ProductCard(ProductFacts):
    category_id: int
    image_url: str | None = Field(description="The primary image (or the first by sort order), or null")
    rating_avg: float | None = Field(description="Average product rating, 2 decimals; null without reviews")
    rating_count: int
    trending_badge: bool = Field(description="Manually trending, or in the top 12 by score with score > 0 (C7)")
    can_buy: bool = Field(description="The seller is payout-ready or an owner (C10)")
    snippet: str | None = Field(
        default=None,
        description="Searches: where the words matched in the description, as HTML (text escaped, matches in <b>)",
    )


class Page(BaseModel):
    items: list[ProductCard]
    page: int
    page_size: int
    total: int = Field(description="Matching products; for a search, counted up to 1,000 (see total_exact)")
    total_exact: bool = Field(default=True, description="False when a search matched more than ``total``")
    has_next: bool


class FacetCount(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    """How many of the matches (before the category and kind refinements) fall in each category and kind."""

    categories: list[FacetCount] = Field(description="Category id (as text) and its matches, most first")
    kinds: list[FacetCount]


class BrowseResult(Page):
    kind: CatalogType | None
    q: str | None
    sort: Sort
    notice: str | None = Field(
        default=None,
        description="Set when the sort fell back: top-rated with no product reaching 3 reviews, trending with no signal",
    )
    facets: Facets | None = Field(default=None, description="With facets=true: counts for the browse sidebar")


class HomeBuckets(BaseModel):
    featured: list[ProductCard]
    new: list[ProductCard]
    trending: list[ProductCard]
    misc: list[ProductCard]


class CategoryRef(BaseModel):
    id: int
    name: str
    slug: str
    type: CatalogType


class CategoryChip(CategoryRef):
    product_count: int


class CategoryPage(Page):
    category: CategoryRef
    parent: CategoryRef | None
    children: list[CategoryChip]
    sort: Sort
    notice: str | None = None


class PhysicalSpecs(BaseModel):
    material: str
    color: str
    width_mm: int | None
    height_mm: int | None
    depth_mm: int | None


class RatingSummary(BaseModel):
    avg: float | None
    count: int


class ProductDetail(ProductFacts):
    short_description: str
    description: str
    is_featured: bool
    category: CategoryRef
    parent_category: CategoryRef | None
    images: list[ImageOut]
    rating: RatingSummary
    seller_rating: RatingSummary
    license_text: str | None = Field(description="FILE products only")
    physical_specs: PhysicalSpecs | None = Field(description="MODEL products only")
    assets: list[AssetSummary] = Field(description="FILE products: the files included (names, formats, sizes)")
    trending_badge: bool
    can_buy: bool
    published_at: dt.datetime | None
    more_like_this: list[ProductCard]
