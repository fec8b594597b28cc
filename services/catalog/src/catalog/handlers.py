"""Every event the catalog service consumes, registered in one place.

Each handler runs in the consumer's transaction (with the inbox row), so an event's effect happens
once; the projections themselves are idempotent and ignore older facts as well (catalog.projections).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.projections import service as projections
from homecraft_shared.events.engagement import ReviewPostedV1, SellerReviewPostedV1, TrendingScoresUpdatedV1
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.envelope import EventEnvelope

handlers = HandlerRegistry(consumer_name="catalog")


@handlers.on(SellerPayoutReadinessChangedV1, reads=("seller_id", "ready", "changed_at"))
async def on_payout_readiness_changed(
    session: AsyncSession, data: SellerPayoutReadinessChangedV1, _: EventEnvelope
) -> None:
    await projections.apply_payout_readiness(session, data)


@handlers.on(ReviewPostedV1, reads=("product_id", "rating_count", "rating_sum", "posted_at"))
async def on_review_posted(session: AsyncSession, data: ReviewPostedV1, _: EventEnvelope) -> None:
    await projections.apply_product_rating(session, data)


@handlers.on(SellerReviewPostedV1, reads=("seller_id", "rating_count", "rating_sum", "posted_at"))
async def on_seller_review_posted(session: AsyncSession, data: SellerReviewPostedV1, _: EventEnvelope) -> None:
    await projections.apply_seller_rating(session, data)


@handlers.on(TrendingScoresUpdatedV1, reads=("computed_at", "complete", "scores"))
async def on_trending_scores_updated(session: AsyncSession, data: TrendingScoresUpdatedV1, _: EventEnvelope) -> None:
    await projections.apply_trending_scores(session, data)
