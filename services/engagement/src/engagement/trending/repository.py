"""Trending queries: the window's sums from the daily aggregates, the scores, the dirty set."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import ProductDay, ProductFact, RatingSummary, TrendingDirty, TrendingScore, TrendingState
from engagement.trending.domain import Counts
from homecraft_shared.upsert import insert_for

STATE_ID = 1


async def window_state(session: AsyncSession) -> TrendingState | None:
    return await session.get(TrendingState, STATE_ID, with_for_update=True)


def set_window_state(session: AsyncSession, state: TrendingState | None, start: dt.date) -> None:
    if state is None:
        session.add(TrendingState(id=STATE_ID, window_start=start))
    else:
        state.window_start = start


async def mark_products_with_days(session: AsyncSession, first: dt.date, before: dt.date) -> None:
    """Every product with activity on a day in [first, before) must be recomputed (those days left the window)."""
    products = select(ProductDay.product_id).where(ProductDay.day >= first, ProductDay.day < before).distinct()
    stmt = insert_for(session, TrendingDirty).from_select(["product_id"], products)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=[TrendingDirty.product_id]))


async def claim_dirty(session: AsyncSession, limit: int) -> list[str]:
    """Take up to ``limit`` products off the dirty set (a concurrent replica takes others or waits)."""
    some = select(TrendingDirty.product_id).order_by(TrendingDirty.product_id).limit(limit).scalar_subquery()
    rows = await session.scalars(
        delete(TrendingDirty).where(TrendingDirty.product_id.in_(some)).returning(TrendingDirty.product_id)
    )
    return sorted(rows.all())


async def window_counts(session: AsyncSession, product_ids: Collection[str], first: dt.date, last: dt.date) -> dict[str, Counts]:
    rows = await session.execute(
        select(
            ProductDay.product_id,
            func.sum(ProductDay.views),
            func.sum(ProductDay.clicks),
            func.sum(ProductDay.add_to_cart),
            func.sum(ProductDay.purchases),
            func.sum(ProductDay.reviews),
        )
        .where(ProductDay.product_id.in_(product_ids), ProductDay.day >= first, ProductDay.day <= last)
        .group_by(ProductDay.product_id)
    )
    return {pid: Counts(int(v or 0), int(c or 0), int(a or 0), int(p or 0), int(r or 0)) for pid, v, c, a, p, r in rows}


async def days(session: AsyncSession, product_id: str, first: dt.date, last: dt.date) -> list[ProductDay]:
    rows = await session.scalars(
        select(ProductDay)
        .where(ProductDay.product_id == product_id, ProductDay.day >= first, ProductDay.day <= last)
        .order_by(ProductDay.day)
    )
    return list(rows.all())


async def product_ratings(session: AsyncSession, product_ids: Collection[str]) -> dict[str, tuple[int, int]]:
    rows = await session.execute(
        select(RatingSummary.subject_id, RatingSummary.rating_sum, RatingSummary.rating_count).where(
            RatingSummary.subject == "product", RatingSummary.subject_id.in_(product_ids)
        )
    )
    return {pid: (int(total), int(count)) for pid, total, count in rows}


async def products(session: AsyncSession, product_ids: Collection[str]) -> dict[str, ProductFact]:
    rows = await session.scalars(select(ProductFact).where(ProductFact.product_id.in_(product_ids)))
    return {p.product_id: p for p in rows}


async def scores(session: AsyncSession, product_ids: Collection[str]) -> dict[str, TrendingScore]:
    rows = await session.scalars(select(TrendingScore).where(TrendingScore.product_id.in_(product_ids)))
    return {s.product_id: s for s in rows}


async def score_of(session: AsyncSession, product_id: str) -> TrendingScore | None:
    return await session.get(TrendingScore, product_id)


async def top(session: AsyncSession, limit: int) -> list[TrendingScore]:
    """The top ``limit`` scores above 0 in C7 order: one index range read, whatever the event count."""
    rows = await session.scalars(
        select(TrendingScore)
        .where(TrendingScore.score > 0)
        .order_by(
            TrendingScore.score.desc(),
            TrendingScore.avg_rating.desc(),
            TrendingScore.first_published_at.desc(),
            TrendingScore.product_id.desc(),
        )
        .limit(limit)
    )
    return list(rows.all())
