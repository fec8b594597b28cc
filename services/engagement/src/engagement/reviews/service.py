"""Reviews (V1) and seller ratings (V2): only by the buyer of a paid order (orders' ``order.paid``,
projected as ``purchased_lines``), one per line and one per (buyer, seller, order). Each posts the
new rating summary to catalog (``review.posted`` / ``seller_review.posted``) in the same
transaction, and a product review counts for trending (C7) on its day. Never commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from engagement import aggregates
from engagement.models import PurchasedLine, Review, SellerReview, shown_name
from engagement.reviews import repository
from engagement.reviews.repository import PRODUCT, SELLER
from engagement.reviews.schemas import (
    ProductReviews,
    RateableSeller,
    RatingOut,
    Reviewable,
    ReviewableLine,
    ReviewIn,
    ReviewOut,
    SellerReviewIn,
    SellerReviewOut,
)
from engagement.trending.repository import products
from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, NotFound
from homecraft_shared.events.engagement import ReviewPostedV1, SellerReviewPostedV1
from homecraft_shared.identity import Identity
from homecraft_shared.messaging.outbox import record_event

LATEST_REVIEWS = 5  # C9


def review_out(review: Review, line: PurchasedLine) -> ReviewOut:
    return ReviewOut(id=review.id, product_id=review.product_id, line_id=review.line_id, buyer_name=review.buyer_name,
                     rating=review.rating, title=review.title, body=review.body, created_at=review.created_at,
                     refunded=line.refunded_at is not None)


async def post_review(session: AsyncSession, identity: Identity, data: ReviewIn) -> ReviewOut:
    line = await repository.line(session, data.line_id)
    if line is None or line.buyer_id != identity.user_id:
        # Someone else's line looks exactly like no line (V1: only the buyer of a paid order).
        raise NotFound(f"You have no paid purchase {data.line_id} to review: only the buyer of a paid order may review it.")
    if await repository.review_of_line(session, line.line_id) is not None:
        raise Conflict("You already reviewed this purchase: one review per order line.")
    now = utcnow()
    review = Review(line_id=line.line_id, product_id=line.product_id, buyer_id=identity.user_id,
                    buyer_name=shown_name(identity.username), rating=data.rating, title=data.title, body=data.body, created_at=now)
    session.add(review)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same line reviewed concurrently
        raise Conflict("You already reviewed this purchase: one review per order line.") from exc
    count, total = await repository.add_rating(session, PRODUCT, line.product_id, data.rating)
    await aggregates.add_to_days(session, {(line.product_id, now.astimezone(dt.UTC).date()): {"reviews": 1}})
    await aggregates.mark_dirty(session, [line.product_id])
    record_event(session, ReviewPostedV1(review_id=str(review.id), product_id=line.product_id, rating=data.rating,
                                         posted_at=now, rating_count=count, rating_sum=total),
                 subject_id=line.product_id)
    return review_out(review, line)


async def post_seller_review(session: AsyncSession, identity: Identity, data: SellerReviewIn) -> SellerReviewOut:
    if not await repository.buyer_has_seller_in_order(session, identity.user_id, data.order_id, data.seller_id):
        raise NotFound(f"You have no paid order {data.order_id} with a line of seller {data.seller_id}: "
                       "only its buyer may rate the seller for it.")
    if await repository.seller_review(session, identity.user_id, data.seller_id, data.order_id) is not None:
        raise Conflict("You already rated this seller for this order: one rating per seller and order.")
    now = utcnow()
    review = SellerReview(seller_id=data.seller_id, buyer_id=identity.user_id, buyer_name=shown_name(identity.username),
                          order_id=data.order_id, rating=data.rating, title=data.title, body=data.body, created_at=now)
    session.add(review)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("You already rated this seller for this order: one rating per seller and order.") from exc
    count, total = await repository.add_rating(session, SELLER, data.seller_id, data.rating)
    record_event(session, SellerReviewPostedV1(review_id=str(review.id), seller_id=data.seller_id, rating=data.rating,
                                               posted_at=now, rating_count=count, rating_sum=total),
                 subject_id=data.seller_id)
    return SellerReviewOut.model_validate(review)


def _rating(count: int, total: int) -> RatingOut:
    return RatingOut(count=count, sum=total, average=round(total / count, 2) if count else None)


async def product_reviews(session: AsyncSession, product_id: str) -> ProductReviews:
    product_summary = await repository.summary(session, PRODUCT, product_id)
    product = (await products(session, [product_id])).get(product_id)
    seller_rating = None
    if product is not None:
        seller_summary = await repository.summary(session, SELLER, product.seller_id)
        seller_rating = _rating(seller_summary.rating_count, seller_summary.rating_sum) if seller_summary else _rating(0, 0)
    latest = await repository.latest_reviews(session, product_id, LATEST_REVIEWS)
    return ProductReviews(
        product_id=product_id,
        rating=_rating(product_summary.rating_count, product_summary.rating_sum) if product_summary else _rating(0, 0),
        seller_id=product.seller_id if product else None,
        seller_rating=seller_rating,
        reviews=[review_out(review, line) for review, line in latest],
    )


async def reviewable(session: AsyncSession, identity: Identity) -> Reviewable:
    lines = await repository.unreviewed_lines(session, identity.user_id)
    sellers = await repository.unrated_sellers(session, identity.user_id)
    return Reviewable(
        lines=[ReviewableLine(line_id=line.line_id, order_id=line.order_id, product_id=line.product_id,
                              seller_id=line.seller_id, paid_at=line.paid_at) for line in lines],
        sellers=[RateableSeller(order_id=order_id, seller_id=seller_id) for order_id, seller_id in sellers],
    )
