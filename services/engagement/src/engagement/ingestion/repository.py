"""Queries behind ingestion: throttle marks, the raw log, the per product per day aggregates."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import EngagementEvent, ProductFact, ThrottleMark
from homecraft_shared.upsert import insert_for


async def listed_products(session: AsyncSession, product_ids: Collection[str]) -> set[str]:
    if not product_ids:
        return set()
    rows = await session.scalars(
        select(ProductFact.product_id).where(ProductFact.product_id.in_(product_ids), ProductFact.is_listed.is_(True))
    )
    return set(rows.all())


async def throttle_marks(session: AsyncSession, keys: Collection[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await session.execute(select(ThrottleMark.key, ThrottleMark.blocked_until).where(ThrottleMark.key.in_(keys)))
    return {key: int(until) for key, until in rows}


async def claim_throttle_marks(session: AsyncSession, marks: Mapping[str, tuple[int, int]]) -> set[str]:
    """``marks``: key -> (its first accepted event's epoch second, blocked until). Each key is set
    unless it is still blocked at that first event (another replica got there first since it was
    read); the keys set are returned. One atomic statement, so two replicas never both accept."""
    if not marks:
        return set()
    table = ThrottleMark.__table__
    stmt = insert_for(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"accepted_at": stmt.excluded.accepted_at, "blocked_until": stmt.excluded.blocked_until},
        where=table.c.blocked_until <= stmt.excluded.accepted_at,
    ).returning(table.c.key)
    # One Core statement (the table, not the ORM entity: no per-row ORM work) executed for many
    # rows: compiled once and cached, sent in multi-row batches.
    rows = [{"key": k, "accepted_at": at, "blocked_until": until} for k, (at, until) in marks.items()]
    return set((await session.scalars(stmt, rows)).all())


async def add_raw_events(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    if rows:
        await session.execute(insert(cast(Table, EngagementEvent.__table__)), rows)  # Core executemany


async def prune_throttle_marks(session: AsyncSession, now: int) -> int:
    result = await session.execute(delete(ThrottleMark).where(ThrottleMark.blocked_until <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def prune_raw_events(session: AsyncSession, before: dt.datetime) -> int:
    result = await session.execute(delete(EngagementEvent).where(EngagementEvent.occurred_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
