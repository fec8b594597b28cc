"""The per product per day aggregates (``product_days``) and the trending dirty set: what every
source of engagement (events, purchases, reviews) adds to. Trending (C7), its explanation and the
seller analytics read the aggregates; nothing reads the raw facts again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import ProductDay, TrendingDirty
from homecraft_shared.upsert import insert_for

DAY_COLUMNS = ("views", "clicks", "add_to_cart", "purchases", "reviews", "revenue_cents")


async def add_to_days(session: AsyncSession, increments: Mapping[tuple[str, dt.date], Mapping[str, int]]) -> None:
    """Add counts to each (product, day) row, creating it when missing: one executemany."""
    rows = [
        {"product_id": product_id, "day": day, **{column: counts.get(column, 0) for column in DAY_COLUMNS}}
        for (product_id, day), counts in sorted(increments.items())
    ]
    if not rows:
        return
    table = ProductDay.__table__
    stmt = insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.product_id, table.c.day],
        set_={column: table.c[column] + stmt.excluded[column] for column in DAY_COLUMNS},
    )
    await session.execute(stmt, rows)


async def mark_dirty(session: AsyncSession, product_ids: Iterable[str]) -> None:
    """Trending must recompute these products' scores."""
    ids = sorted(set(product_ids))
    if ids:
        table = TrendingDirty.__table__
        stmt = insert_for(session, table).on_conflict_do_nothing(index_elements=[table.c.product_id])
        await session.execute(stmt, [{"product_id": pid} for pid in ids])
