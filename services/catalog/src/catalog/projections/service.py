"""Local projections of other services' facts (architecture: "a service keeps a local projection").

Every function is idempotent and order-proof: it stores the fact with the time it was true at the
producer and ignores a fact older than the one stored, so a duplicate, late or reordered event
leaves the same state.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import SellerPayoutStatus, SellerRating, average_rating
from catalog.projections import repository
from homecraft_shared.events.engagement import ReviewPostedV1, SellerReviewPostedV1, TrendingScoresUpdatedV1
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def apply_payout_readiness(session: AsyncSession, data: SellerPayoutReadinessChangedV1) -> None:
    """P2/C4/C10: the seller's payout readiness as of ``changed_at``."""
    status = await repository.payout_status(session, data.seller_id)
    if status is None:
        session.add(SellerPayoutStatus(seller_id=data.seller_id, ready=data.ready, as_of=data.changed_at))
    elif data.changed_at >= status.as_of:
        status.ready = data.ready
        status.as_of = data.changed_at


async def apply_product_rating(session: AsyncSession, data: ReviewPostedV1) -> None:
    """The product's rating summary (count and sum) as of the review's ``posted_at``."""
    product_id = _uuid(data.product_id)
    product = await repository.product(session, product_id) if product_id else None
    if product is None:
        return  # not one of ours (or gone): nothing to project
    if product.rating_as_of is not None and data.posted_at < product.rating_as_of:
        return
    product.rating_count = data.rating_count
    product.rating_sum = data.rating_sum
    product.avg_rating = average_rating(data.rating_sum, data.rating_count)
    product.rating_as_of = data.posted_at


async def apply_seller_rating(session: AsyncSession, data: SellerReviewPostedV1) -> None:
    rating = await repository.seller_rating(session, data.seller_id)
    if rating is None:
        session.add(
            SellerRating(
                seller_id=data.seller_id, rating_count=data.rating_count, rating_sum=data.rating_sum, as_of=data.posted_at
            )
        )
    elif data.posted_at >= rating.as_of:
        rating.rating_count = data.rating_count
        rating.rating_sum = data.rating_sum
        rating.as_of = data.posted_at


async def apply_trending_scores(session: AsyncSession, data: TrendingScoresUpdatedV1) -> None:
    """C7 scores as of ``computed_at``; a complete set also zeroes every product it does not list.

    Per product: a score computed earlier than the one stored is ignored.
    """
    scores = [(pid, score.score) for score in data.scores if (pid := _uuid(score.product_id)) is not None]
    if data.complete:
        await repository.zero_trending_scores_older_than(session, data.computed_at)
    await repository.set_trending_scores(session, scores, data.computed_at)
