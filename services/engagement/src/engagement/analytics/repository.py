"""Seller analytics queries: the seller's listings' daily aggregates over a period."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import ProductDay, ProductFact


async def seller_days(session: AsyncSession, seller_id: str, first: dt.date, last: dt.date
                      ) -> list[tuple[ProductFact, ProductDay]]:
    rows = await session.execute(
        select(ProductFact, ProductDay)
        .join(ProductDay, ProductDay.product_id == ProductFact.product_id)
        .where(ProductFact.seller_id == seller_id, ProductDay.day >= first, ProductDay.day <= last)
        .order_by(ProductFact.product_id, ProductDay.day)
    )
    return [(product, day) for product, day in rows]
