"""Internal API queries."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from catalog.buyability import seller_ready_clause
from catalog.models import Product
from homecraft_shared.db import INLINE_READ

# What the lookup answers with, read as plain columns (no ORM objects are built for a lookup).
LOOKUP_COLUMNS = (
    Product.id, Product.seller_id, Product.seller_is_owner, Product.kind, Product.title, Product.slug,
    Product.category_id, Product.price_cents, Product.currency, Product.is_free, Product.status, Product.is_active,
)


# Built once (its SQL compiled once, its cache key computed once): the lookup is the synchronous call
# every order placement makes (decision 0204). ``ids`` is an expanding IN list of at most MAX_LOOKUP
# primary keys, so on SQLite it is a short read run on the event loop's thread (INLINE_READ, decision 0205).
LOOKUP = select(*LOOKUP_COLUMNS, seller_ready_clause().label("ready")).where(
    Product.id.in_(bindparam("ids", expanding=True))).execution_options(**INLINE_READ)


async def lookup_rows(db: AsyncSession | AsyncConnection, ids: Collection[uuid.UUID]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The lookup columns of these products and whether each one's seller is payout-ready: one statement,
    on a session or on a plain connection (the lookup endpoint reads on one, no unit of work)."""
    if not ids:
        return []
    result = await db.execute(LOOKUP, {"ids": list(ids)})
    return result.all()
