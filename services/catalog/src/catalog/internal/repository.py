"""Internal API queries."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.buyability import seller_ready_clause
from catalog.models import Product


async def products_with_readiness(session: AsyncSession, ids: Collection[uuid.UUID]) -> list[tuple[Product, bool]]:
    """The products and whether each one's seller is payout-ready — one query."""
    rows = await session.execute(select(Product, seller_ready_clause().label("ready")).where(Product.id.in_(ids)))
    return [(product, bool(ready)) for product, ready in rows.all()]
