"""Events the engagement service produces."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from homecraft_shared.messaging.contracts import EventData, event_contract


class RatingSummary(EventData):
    # Sum and count, not an average: consumers derive the average exactly.
    rating_count: int = Field(ge=0)
    rating_sum: int = Field(ge=0)


@event_contract("review.posted", 1, producer="engagement",
                description="A buyer reviewed a product (V1); carries the product's new rating summary.")
class ReviewPostedV1(RatingSummary):
    review_id: str
    product_id: str
    rating: int = Field(ge=1, le=5)
    posted_at: dt.datetime


@event_contract("seller_review.posted", 1, producer="engagement",
                description="A buyer rated a seller (V2); carries the seller's new rating summary.")
class SellerReviewPostedV1(RatingSummary):
    review_id: str
    seller_id: str
    rating: int = Field(ge=1, le=5)
    posted_at: dt.datetime


class ProductScore(EventData):
    product_id: str
    score: float = Field(ge=0)


@event_contract("trending.scores_updated", 1, producer="engagement",
                description="A fresh set of trending scores (C7). When complete, products not listed score 0.")
class TrendingScoresUpdatedV1(EventData):
    computed_at: dt.datetime
    window_days: int = 30
    complete: bool
    scores: list[ProductScore]
