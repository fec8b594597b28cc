"""The Stripe event store (P4, A4): one row per Stripe event id."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import dialect_of
from payments.models import StripeEvent


async def insert_once(session: AsyncSession, values: dict[str, object]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING: True when this call stored the event, False for a duplicate."""
    if dialect_of(session) == "sqlite":
        statement = sqlite.insert(StripeEvent).values(**values).on_conflict_do_nothing(index_elements=["event_id"])
        result = await session.execute(statement.returning(StripeEvent.event_id))
    else:
        pg = postgresql.insert(StripeEvent).values(**values).on_conflict_do_nothing(index_elements=["event_id"])
        result = await session.execute(pg.returning(StripeEvent.event_id))
    return result.scalar_one_or_none() is not None


async def get(session: AsyncSession, event_id: str) -> StripeEvent | None:
    return await session.get(StripeEvent, event_id)


async def waiting_for(session: AsyncSession, order_id: str) -> list[StripeEvent]:
    return list((await session.scalars(
        select(StripeEvent).where(StripeEvent.waiting_for_order == order_id, StripeEvent.status == "waiting")
        .order_by(StripeEvent.stripe_created, StripeEvent.received_at))).all())


async def page(session: AsyncSession, *, type_: str | None, status: str | None, since: dt.datetime | None,
               offset: int, limit: int) -> tuple[list[StripeEvent], int]:
    query = select(StripeEvent)
    if type_:
        query = query.where(StripeEvent.type == type_)
    if status:
        query = query.where(StripeEvent.status == status)
    if since:
        query = query.where(StripeEvent.received_at >= since)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(StripeEvent.received_at.desc(), StripeEvent.event_id)
                                 .offset(offset).limit(limit))
    return list(rows.all()), int(total or 0)


__all__ = ["get", "insert", "insert_once", "page", "waiting_for"]
