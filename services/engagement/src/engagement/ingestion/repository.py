"""Queries behind ingestion: throttle marks, the raw log, the per product per day aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import EngagementEvent, Product, ProductDay, ThrottleMark, TrendingDirty
from homecraft_shared.upsert import insert_for

DAY_COLUMNS = ("views", "clicks", "add_to_cart", "purchases", "reviews", "revenue_cents")


async def listed_products(session: AsyncSession, product_ids: Collection[str]) -> set[str]:
    if not product_ids:
        return set()
    rows = await session.scalars(
        select(Product.product_id).where(Product.product_id.in_(product_ids), Product.is_listed.is_(True))
    )
    return set(rows.all())


async def claim_throttle_marks(session: AsyncSession, marks: Mapping[str, tuple[int, int]]) -> set[str]:
    """``marks``: key -> (event's epoch second, blocked until). Each key is set unless it is still
    blocked at its event's time; the keys set (new, or past their block) are returned. One atomic
    statement, so two replicas never both accept the same key."""
    if not marks:
        return set()
    stmt = insert_for(session, ThrottleMark).values(
        [{"key": k, "accepted_at": at, "blocked_until": until} for k, (at, until) in marks.items()]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[ThrottleMark.key],
        set_={"accepted_at": stmt.excluded.accepted_at, "blocked_until": stmt.excluded.blocked_until},
        where=ThrottleMark.blocked_until <= stmt.excluded.accepted_at,
    ).returning(ThrottleMark.key)
    return set((await session.scalars(stmt)).all())


async def add_raw_events(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    if rows:
        await session.execute(insert(EngagementEvent), rows)


async def add_to_days(session: AsyncSession, increments: Mapping[tuple[str, dt.date], Mapping[str, int]]) -> None:
    """Add counts to each (product, day) row, creating it when missing."""
    for (product_id, day), counts in increments.items():
        values = {column: counts.get(column, 0) for column in DAY_COLUMNS}
        stmt = insert_for(session, ProductDay).values(product_id=product_id, day=day, **values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[ProductDay.product_id, ProductDay.day],
            set_={column: getattr(ProductDay, column) + getattr(stmt.excluded, column)
                  for column, amount in values.items() if amount},
        )
        await session.execute(stmt)


async def mark_dirty(session: AsyncSession, product_ids: Iterable[str]) -> None:
    """Trending must recompute these products' scores."""
    ids = sorted(set(product_ids))
    if ids:
        stmt = insert_for(session, TrendingDirty).values([{"product_id": pid} for pid in ids])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=[TrendingDirty.product_id]))


async def prune_throttle_marks(session: AsyncSession, now: int) -> int:
    result = await session.execute(delete(ThrottleMark).where(ThrottleMark.blocked_until <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_raw_events(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(EngagementEvent).where(EngagementEvent.occurred_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
