"""Listing request and response bodies (C2, C3, the listing workflow); responses are built from the
model (``ListingOut.of``, ``ListingSummary.of``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalog.assets.schemas import AssetOut
from catalog.images.domain import image_url, ordered, primary
from catalog.images.schemas import SellerImageOut
from catalog.listings.domain import MAX_PRICE_CENTS, missing_for_publish
from catalog.models import CatalogType, ListingStatus, Product
from catalog.ratings import rating_avg
from homecraft_shared.inputs import Count, Id, Int32, Line, Omittable, Text

Dimension = Count | None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _ListingFields(_Input):
    short_description: Omittable[Text] = Field(default=None, max_length=280)
    description: Omittable[Text] = Field(default=None, max_length=50_000)
    price_cents: Omittable[Int32] = Field(
        default=None,
        description="Price in cents; must be > 0 unless is_free (then forced to 0), at most "
        f"{MAX_PRICE_CENTS}. A draft may leave it out.",
    )
    is_free: Omittable[bool] = None
    # Physical specs: 3D Models (MODEL) only; a dimension may be cleared with null.
    material: Omittable[Line] = Field(default=None, max_length=120)
    color: Omittable[Line] = Field(default=None, max_length=120)
    width_mm: Dimension = Field(default=None, gt=0, le=100_000)
    height_mm: Dimension = Field(default=None, gt=0, le=100_000)
    depth_mm: Dimension = Field(default=None, gt=0, le=100_000)
    # License: 3D Files (FILE) only.
    license_text: Omittable[Text] = Field(default=None, max_length=20_000)
    # Owners only (null: leave unchanged).
    is_active: bool | None = Field(default=None, description="Owners only.")
    is_featured: bool | None = Field(default=None, description="Owners only.")
    is_trending: bool | None = Field(default=None, description="Owners only (manual trending flag).")


class ListingCreate(_ListingFields):
    kind: CatalogType
    title: Line = Field(min_length=1, max_length=160)
    category_id: Id


class ListingUpdate(_ListingFields):
    """Only the fields sent change. ``kind`` may change only while the listing is a draft."""

    kind: Omittable[CatalogType] = None
    title: Omittable[Line] = Field(default=None, min_length=1, max_length=160)
    category_id: Omittable[Id] = None


class MissingItem(BaseModel):
    field: str
    message: str


class ListingState(BaseModel):
    """What a listing is, its price and where it stands in the workflow: part of every listing
    response and of the internal product facts."""

    kind: CatalogType
    title: str
    slug: str
    category_id: int
    price_cents: int
    currency: str
    is_free: bool
    status: ListingStatus
    is_active: bool
    visible: bool = Field(description="Published and active: buyers can see it.")

    @staticmethod
    def state_of(product: Product) -> dict[str, Any]:
        fields = {name: getattr(product, name) for name in ListingState.model_fields if name != "visible"}
        return {**fields, "visible": product.is_visible}


class ListingOut(ListingState):
    id: uuid.UUID
    seller_id: str
    seller_is_owner: bool
    short_description: str
    description: str
    is_featured: bool
    is_trending: bool
    material: str
    color: str
    width_mm: int | None
    height_mm: int | None
    depth_mm: int | None
    license_text: str
    rating_count: int
    rating_avg: float | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None
    images: list[SellerImageOut]
    assets: list[AssetOut]
    missing_for_publish: list[MissingItem] = Field(description="What must be added before the listing can be published.")

    @classmethod
    def of(cls, product: Product) -> ListingOut:
        """The listing as its seller sees it (its category, images and assets loaded)."""
        columns = {column.key: getattr(product, column.key) for column in Product.__table__.columns}
        return cls(
            **{key: value for key, value in columns.items() if key in cls.model_fields},
            visible=product.is_visible,
            rating_avg=rating_avg(product.rating_sum, product.rating_count),
            images=[SellerImageOut.of(image) for image in ordered(product.images)],
            assets=[AssetOut.model_validate(asset) for asset in product.assets],
            missing_for_publish=[MissingItem(**item) for item in missing_for_publish(product, product.category).items],
        )


class ListingSummary(ListingState):
    id: uuid.UUID
    primary_image_url: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None

    @classmethod
    def of(cls, product: Product) -> ListingSummary:
        picture = primary(product.images)
        return cls(
            **ListingState.state_of(product),
            id=product.id, created_at=product.created_at, updated_at=product.updated_at,
            published_at=product.published_at,
            primary_image_url=image_url(picture.storage_key) if picture else None,
        )


class ListingPage(BaseModel):
    items: list[ListingSummary]
    total: int
    page: int
    page_size: int
