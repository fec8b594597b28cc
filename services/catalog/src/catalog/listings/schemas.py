"""Listing request and response bodies (C2, C3, the listing workflow)."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from catalog.models import AssetFormat, CatalogType, ListingStatus

MAX_PRICE_CENTS = 100_000_000  # $1,000,000.00
Dimension = int | None


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _ListingFields(_Input):
    short_description: str | None = Field(default=None, max_length=280)
    description: str | None = None
    price_cents: int | None = Field(
        default=None, description="Price in cents; must be > 0 unless is_free (then forced to 0). A draft may leave it out."
    )
    is_free: bool | None = None
    # Physical specs: 3D Models (MODEL) only.
    material: str | None = Field(default=None, max_length=120)
    color: str | None = Field(default=None, max_length=120)
    width_mm: Dimension = Field(default=None, gt=0, le=100_000)
    height_mm: Dimension = Field(default=None, gt=0, le=100_000)
    depth_mm: Dimension = Field(default=None, gt=0, le=100_000)
    # License: 3D Files (FILE) only.
    license_text: str | None = Field(default=None, max_length=20_000)
    # Owners only.
    is_active: bool | None = Field(default=None, description="Owners only.")
    is_featured: bool | None = Field(default=None, description="Owners only.")
    is_trending: bool | None = Field(default=None, description="Owners only (manual trending flag).")


class ListingCreate(_ListingFields):
    kind: CatalogType
    title: str = Field(min_length=1, max_length=160)
    category_id: int


class ListingUpdate(_ListingFields):
    """Only the fields sent change. ``kind`` may change only while the listing is a draft."""

    kind: CatalogType | None = None
    title: str | None = Field(default=None, min_length=1, max_length=160)
    category_id: int | None = None


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    storage_key: str
    content_type: str
    size_bytes: int
    alt_text: str
    is_primary: bool
    sort_order: int
    created_at: dt.datetime


class AssetOut(BaseModel):
    """A digital file's metadata; the file itself is never served publicly."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    original_filename: str
    file_format: AssetFormat
    size_bytes: int
    sha256: str
    created_at: dt.datetime


class MissingItem(BaseModel):
    field: str
    message: str


class ListingOut(BaseModel):
    id: uuid.UUID
    seller_id: str
    seller_is_owner: bool
    kind: CatalogType
    title: str
    slug: str
    short_description: str
    description: str
    category_id: int
    price_cents: int
    currency: str
    is_free: bool
    status: ListingStatus
    is_active: bool
    is_featured: bool
    is_trending: bool
    visible: bool
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
    images: list[ImageOut]
    assets: list[AssetOut]
    missing_for_publish: list[MissingItem] = Field(description="What must be added before the listing can be published.")


class ListingSummary(BaseModel):
    id: uuid.UUID
    kind: CatalogType
    title: str
    slug: str
    category_id: int
    price_cents: int
    currency: str
    is_free: bool
    status: ListingStatus
    is_active: bool
    visible: bool
    primary_image_url: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    published_at: dt.datetime | None


class ListingPage(BaseModel):
    items: list[ListingSummary]
    total: int
    page: int
    page_size: int
