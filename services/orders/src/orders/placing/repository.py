from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Order, OrderEvent, OrderLine


async def by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def by_placement_key(session: AsyncSession, key: str) -> Order | None:
    """The order placed under this key, if any: the miss (every new placement) reads one indexed id."""
    order_id = await session.scalar(select(Order.id).where(Order.placement_key == key))
    return None if order_id is None else await by_id(session, order_id)


def _table(model: type[Order | OrderLine | OrderEvent]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _row(obj: object) -> dict[str, Any]:
    """The column values of a new (transient) object; an unset primary key (autoincrement) is left out."""
    state = inspect(obj)
    return {attr.key: value for attr in state.mapper.column_attrs
            if (value := state.dict.get(attr.key)) is not None or not attr.columns[0].primary_key}


async def insert_placed(session: AsyncSession, order: Order, created: OrderEvent) -> bool:
    """A new order, its lines and its first timeline entry as three plain INSERTs sent back to back, the
    lines as one multi-row statement (no unit-of-work flush): on SQLite the write lock is taken by the
    first and held only until the request commits right after. ``order`` and ``created`` stay transient
    (not in the session): they are what the caller answers with. False (nothing written) when an order
    with the same placement key was written first (a racing double click)."""
    try:
        await session.execute(insert(_table(Order)), [_row(order)])
    except IntegrityError:
        return False
    await session.execute(insert(_table(OrderLine)), [_row(line) for line in order.lines])
    await session.execute(insert(_table(OrderEvent)), [_row(created)])
    return True


async def timeline(session: AsyncSession, order_id: str) -> list[OrderEvent]:
    return list(await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
