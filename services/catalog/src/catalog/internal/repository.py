"""Internal API queries."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.buyability import seller_ready_clause
from catalog.models import Product

# What the lookup answers with, read as plain columns (no ORM objects are built for a lookup).
LOOKUP_COLUMNS = (
    Product.id, Product.seller_id, Product.seller_is_owner, Product.kind, Product.title, Product.slug,
    Product.category_id, Product.price_cents, Product.currency, Product.is_free, Product.status, Product.is_active,
)


async def lookup_rows(session: AsyncSession, ids: Collection[uuid.UUID]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The lookup columns of these products and whether each one's seller is payout-ready: one statement."""
    result = await session.execute(select(*LOOKUP_COLUMNS, seller_ready_clause().label("ready")).where(Product.id.in_(ids)))
    return result.all()
