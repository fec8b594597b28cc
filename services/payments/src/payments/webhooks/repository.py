"""The Stripe event store (P4, A4): one row per Stripe event id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from homecraft_shared.connections import execute
from payments.models import StripeEvent

STRIPE_EVENTS = cast(Table, StripeEvent.__table__)


def _insert_once_statement(dialect: str) -> Any:
    insert_ = sqlite.insert(STRIPE_EVENTS) if dialect == "sqlite" else postgresql.insert(STRIPE_EVENTS)
    return (insert_.values({column: bindparam(column) for column in _STORED_COLUMNS})
            .on_conflict_do_nothing(index_elements=["event_id"]).returning(STRIPE_EVENTS.c.event_id))


_STORED_COLUMNS = ("event_id", "type", "endpoint", "account", "livemode", "stripe_created", "payload", "received_at",
                   "status", "outcome")
# Built once (decision 0306): the statement's cache key is computed once, not per webhook.
_INSERT_ONCE = {dialect: _insert_once_statement(dialect) for dialect in ("sqlite", "postgresql")}


async def insert_new(connection: AsyncConnection, rows: Sequence[dict[str, object]]) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING of events with distinct ids, as one statement (SQLAlchemy's
    "insertmanyvalues"): the ids of those this call stored; the others were stored before."""
    statement = _INSERT_ONCE["sqlite" if connection.dialect.name == "sqlite" else "postgresql"]
    result = await execute(connection, statement, [{column: row[column] for column in _STORED_COLUMNS} for row in rows])
    return set(result.scalars().all())


async def still_received(connection: AsyncConnection, *, before: dt.datetime, since: dt.datetime | None,
                         after: tuple[dt.datetime, str] | None, limit: int) -> Sequence[Row[Any]]:
    """Stored events never processed (``received``) that arrived before ``before`` and, when given, at or after
    ``since``; in arrival order, from after the key ``after`` (received_at, event_id)."""
    table = STRIPE_EVENTS
    query = select(table.c.event_id, table.c.type, table.c.endpoint, table.c.received_at).where(
        table.c.status == "received", table.c.received_at < before)
    if since is not None:
        query = query.where(table.c.received_at >= since)
    if after is not None:
        query = query.where(tuple_(table.c.received_at, table.c.event_id) > after)
    return (await execute(connection, query.order_by(table.c.received_at, table.c.event_id).limit(limit))).all()


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


__all__ = ["get", "insert_new", "page", "waiting_for"]
