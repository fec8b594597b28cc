"""Review queries."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import PurchasedLine, RatingSummary, Review, SellerReview
from homecraft_shared.upsert import insert_for

PRODUCT, SELLER = "product", "seller"


async def line(session: AsyncSession, line_id: str) -> PurchasedLine | None:
    return await session.get(PurchasedLine, line_id)


async def review_of_line(session: AsyncSession, line_id: str) -> Review | None:
    return await session.scalar(select(Review).where(Review.line_id == line_id))


async def buyer_has_seller_in_order(session: AsyncSession, buyer_id: str, order_id: str, seller_id: str) -> bool:
    return bool(await session.scalar(select(exists().where(
        PurchasedLine.order_id == order_id, PurchasedLine.buyer_id == buyer_id, PurchasedLine.seller_id == seller_id))))


async def seller_review(session: AsyncSession, buyer_id: str, seller_id: str, order_id: str) -> SellerReview | None:
    return await session.scalar(select(SellerReview).where(
        SellerReview.buyer_id == buyer_id, SellerReview.seller_id == seller_id, SellerReview.order_id == order_id))


async def add_rating(session: AsyncSession, subject: str, subject_id: str, rating: int) -> tuple[int, int]:
    """Add one rating to the summary in one atomic statement; the new (count, sum)."""
    stmt = insert_for(session, RatingSummary).values(subject=subject, subject_id=subject_id, rating_count=1,
                                                      rating_sum=rating)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RatingSummary.subject, RatingSummary.subject_id],
        set_={"rating_count": RatingSummary.rating_count + 1, "rating_sum": RatingSummary.rating_sum + rating},
    ).returning(RatingSummary.rating_count, RatingSummary.rating_sum)
    count, total = (await session.execute(stmt)).one()
    return int(count), int(total)


async def summary(session: AsyncSession, subject: str, subject_id: str) -> RatingSummary | None:
    return await session.get(RatingSummary, (subject, subject_id))


async def latest_reviews(session: AsyncSession, product_id: str, limit: int) -> list[tuple[Review, PurchasedLine]]:
    rows = await session.execute(
        select(Review, PurchasedLine)
        .join(PurchasedLine, PurchasedLine.line_id == Review.line_id)
        .where(Review.product_id == product_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return [(review, line) for review, line in rows]


async def unreviewed_lines(session: AsyncSession, buyer_id: str) -> list[PurchasedLine]:
    rows = await session.scalars(
        select(PurchasedLine)
        .where(PurchasedLine.buyer_id == buyer_id, ~exists().where(Review.line_id == PurchasedLine.line_id))
        .order_by(PurchasedLine.paid_at.desc(), PurchasedLine.line_id)
        .limit(200)
    )
    return list(rows.all())


async def unrated_sellers(session: AsyncSession, buyer_id: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(PurchasedLine.order_id, PurchasedLine.seller_id)
        .where(
            PurchasedLine.buyer_id == buyer_id,
            ~exists().where(SellerReview.buyer_id == buyer_id, SellerReview.order_id == PurchasedLine.order_id,
                            SellerReview.seller_id == PurchasedLine.seller_id),
        )
        .distinct()
        .order_by(PurchasedLine.order_id, PurchasedLine.seller_id)
        .limit(200)
    )
    return [(order_id, seller_id) for order_id, seller_id in rows]
