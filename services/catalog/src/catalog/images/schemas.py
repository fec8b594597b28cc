"""Image request bodies (C3); responses are ``catalog.listings.schemas.ImageOut``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ImageUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alt_text: str | None = Field(default=None, max_length=160)
    is_primary: Literal[True] | None = Field(
        default=None, description="true makes this the primary image (the others stop being primary)."
    )


class ImageOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image_ids: list[int] = Field(description="Every image of the listing, in the wanted order.")
