"""Internal API queries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from catalog.buyability import seller_ready_clause
from catalog.models import Product
from homecraft_shared.db import INLINE_READ, InlineReads

# What the lookup answers with, read as plain columns (no ORM objects are built for a lookup).
LOOKUP_COLUMNS = (
    Product.id, Product.seller_id, Product.seller_is_owner, Product.kind, Product.title, Product.slug,
    Product.category_id, Product.price_cents, Product.currency, Product.is_free, Product.status, Product.is_active,
)


@functools.cache
def lookup_statement(count: int) -> Select[*tuple[Any, ...]]:
    """The lookup of ``count`` products by primary key, built once per count (at most MAX_LOOKUP of them):
    its SQL is compiled once and its cache key computed once, and, unlike an expanding ``IN`` parameter,
    it is not re-rendered on every call (decision 0206; the lookup is the synchronous call every order
    placement makes, decision 0204). A short bounded read: on SQLite it runs on the event loop's thread
    (``INLINE_READ``, decision 0205)."""
    ids = [bindparam(f"id{i}", type_=Product.id.type) for i in range(count)]
    return select(*LOOKUP_COLUMNS, seller_ready_clause().label("ready")).where(
        Product.id.in_(ids)).execution_options(**INLINE_READ)


def _parameters(ids: Collection[uuid.UUID]) -> dict[str, uuid.UUID]:
    return {f"id{i}": value for i, value in enumerate(ids)}


async def lookup_rows(db: AsyncSession | AsyncConnection | InlineReads,
                      ids: Collection[uuid.UUID]) -> Sequence[Row[*tuple[Any, ...]]]:
    """The lookup columns of these products and whether each one's seller is payout-ready: one statement,
    on a session, a plain connection or the endpoint's kept inline-read connection (decision 0206)."""
    if not ids:
        return []
    statement, parameters = lookup_statement(len(ids)), _parameters(ids)
    if isinstance(db, InlineReads):
        return await db.all(statement, parameters)
    return (await db.execute(statement, parameters)).all()
