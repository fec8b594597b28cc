"""Image request and response bodies (C3). ``ImageOut`` is what buyers see (product pages);
``SellerImageOut`` adds what the listing's seller manages (listings, uploads)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog.images.domain import MAX_ALT_TEXT, image_url
from catalog.models import ProductImage
from homecraft_shared.inputs import Id, Line, Omittable


class ImageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alt_text: Omittable[Line] = Field(default=None, max_length=MAX_ALT_TEXT)
    is_primary: Omittable[Literal[True]] = Field(
        default=None, description="true makes this the primary image (the others stop being primary)."
    )


class ImageOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[Id] = Field(max_length=1_000, description="Every image of the listing, in the wanted order.")


class ImageOut(BaseModel):
    id: int
    url: str
    alt_text: str
    is_primary: bool

    @classmethod
    def of(cls, image: ProductImage) -> ImageOut:
        return cls(id=image.id, url=image_url(image.storage_key), alt_text=image.alt_text, is_primary=image.is_primary)


class SellerImageOut(ImageOut):
    storage_key: str
    content_type: str
    size_bytes: int
    sort_order: int
    created_at: dt.datetime

    @classmethod
    def of(cls, image: ProductImage) -> SellerImageOut:
        return cls(
            **ImageOut.of(image).model_dump(), storage_key=image.storage_key, content_type=image.content_type,
            size_bytes=image.size_bytes, sort_order=image.sort_order, created_at=image.created_at,
        )
