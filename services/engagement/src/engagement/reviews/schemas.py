"""Review and seller rating bodies (V1, V2). Text is stored as typed and returned as JSON text:
never HTML."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from homecraft_shared.inputs import Line, Text

Rating = Annotated[int, Strict(), Field(ge=1, le=5, description="1 to 5 stars.")]
# An id another service made (a line, order or seller id): one line without control characters, so a NUL
# byte is a 422 here, not a 500 from PostgreSQL (which refuses NUL in text).
ExternalIdIn = Annotated[Line, Field(min_length=1, max_length=64)]
TITLE_MAX = 120
BODY_MAX = 5_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewIn(_Input):
    line_id: ExternalIdIn = Field(description="The purchased order line reviewed (one review per line).")
    rating: Rating
    title: Annotated[Line, Field(max_length=TITLE_MAX)] = ""
    body: Annotated[Text, Field(max_length=BODY_MAX)] = ""


class SellerReviewIn(_Input):
    order_id: ExternalIdIn
    seller_id: ExternalIdIn
    rating: Rating
    title: Annotated[Line, Field(max_length=TITLE_MAX)] = ""
    body: Annotated[Text, Field(max_length=BODY_MAX)] = ""


class RatingOut(BaseModel):
    count: int
    sum: int
    average: float | None  # None without ratings


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    product_id: str
    line_id: str
    buyer_name: str
    rating: int
    title: str
    body: str
    created_at: dt.datetime
    refunded: bool = Field(description="The reviewed line was refunded.")


class SellerReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    seller_id: str
    order_id: str
    buyer_name: str
    rating: int
    title: str
    body: str
    created_at: dt.datetime


class ProductReviews(BaseModel):
    """What the product page needs in one call (C9): the rating summaries and the last 5 reviews."""

    product_id: str
    rating: RatingOut
    seller_id: str | None
    seller_rating: RatingOut | None
    reviews: list[ReviewOut]


class ReviewableLine(BaseModel):
    line_id: str
    order_id: str
    product_id: str
    seller_id: str
    paid_at: dt.datetime


class RateableSeller(BaseModel):
    order_id: str
    seller_id: str


class Reviewable(BaseModel):
    """What the caller may still review (V1) and rate (V2)."""

    lines: list[ReviewableLine]
    sellers: list[RateableSeller]
