"""Seller analytics: what the seller area charts."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query

from engagement.analytics import service
from engagement.analytics.schemas import SellerAnalytics
from homecraft_shared.db import utcnow
from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems

router = APIRouter(tags=["analytics"])


@router.get(
    "/sellers/me/analytics",
    summary="Per listing and per day: views, clicks, carts, purchases, revenue, conversion",
    responses=problems(403),
)
async def seller_analytics(
    session: DbSession,
    identity: CurrentIdentity,
    first: dt.date | None = Query(None, alias="from", description="First day (UTC), default 29 days before `to`."),
    last: dt.date | None = Query(None, alias="to", description="Last day (UTC), default today."),
    seller_id: str | None = Query(None, min_length=1, max_length=64, description="Owners and staff: another seller."),
) -> SellerAnalytics:
    first, last = service.period(first, last, utcnow().date())
    return await service.seller_analytics(session, identity, seller_id, first, last)
