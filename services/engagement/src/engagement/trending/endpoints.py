"""Trending reads: the top products (anyone) and why one product trends (its seller, owners, staff)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from engagement.trending import explain
from engagement.trending.schemas import TrendingExplanation, TrendingList
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems

router = APIRouter(tags=["trending"])


@router.get("/trending", summary="The top products by trending score (C7), with the badge flag")
async def top_trending(session: DbSession, limit: int = Query(12, ge=1, le=100)) -> TrendingList:
    return await explain.top_list(session, limit)


@router.get(
    "/products/{product_id}/trending",
    summary="Why this product is trending: parts and daily trend (its seller, owners)",
    responses=problems(404),
)
async def why_trending(product_id: str, session: DbSession, identity: CurrentIdentity) -> TrendingExplanation:
    return await explain.explanation(session, identity, product_id)
