"""Reviews (V1), seller ratings (V2), and what the product page shows of them (C9)."""

from __future__ import annotations

from fastapi import APIRouter, Path, status

from engagement.reviews import service
from engagement.reviews.schemas import ProductReviews, Reviewable, ReviewIn, ReviewOut, SellerReviewIn, SellerReviewOut
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems

router = APIRouter(tags=["reviews"])

ProductId = Path(min_length=1, max_length=64)


@router.post(
    "/reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Review a purchased line (its buyer, once)",
    responses=problems(404, 409),
)
async def post_review(body: ReviewIn, session: DbSession, identity: CurrentIdentity) -> ReviewOut:
    return await service.post_review(session, identity, body)


@router.post(
    "/seller-reviews",
    status_code=status.HTTP_201_CREATED,
    summary="Rate the seller of a paid order (its buyer, once per seller and order)",
    responses=problems(404, 409),
)
async def post_seller_review(body: SellerReviewIn, session: DbSession, identity: CurrentIdentity) -> SellerReviewOut:
    return await service.post_seller_review(session, identity, body)


@router.get("/products/{product_id}/reviews", summary="Rating summary, seller rating and the last 5 reviews (C9)")
async def product_reviews(session: DbSession, product_id: str = ProductId) -> ProductReviews:
    return await service.product_reviews(session, product_id)


@router.get("/me/reviewable", summary="The caller's purchases not reviewed yet and sellers not rated yet")
async def reviewable(session: DbSession, identity: CurrentIdentity) -> Reviewable:
    return await service.reviewable(session, identity)
