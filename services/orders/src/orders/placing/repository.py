from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from homecraft_shared.group_commit import Inserts
from orders.models import Order, OrderEvent, OrderLine


async def by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


# Built once: every placement reads it (decision 0204).
_ID_BY_PLACEMENT_KEY = select(Order.id).where(Order.placement_key == bindparam("key"))


async def id_by_placement_key(connection: AsyncConnection, key: str) -> str | None:
    """The id of the order placed under this key, if any: one indexed read (a plain Core statement)."""
    return (await connection.execute(_ID_BY_PLACEMENT_KEY, {"key": key})).scalar()


def _table(model: type[Order | OrderLine | OrderEvent]) -> Table:
    return model.metadata.tables[model.__tablename__]


def _row(obj: object) -> dict[str, Any]:
    """The column values of a new (transient) object; an unset primary key (autoincrement) is left out."""
    state = inspect(obj)
    return {attr.key: value for attr in state.mapper.column_attrs
            if (value := state.dict.get(attr.key)) is not None or not attr.columns[0].primary_key}


def placed_rows(order: Order, created: OrderEvent) -> Inserts:
    """A new order, its lines and its first timeline entry as plain rows for the group commit (decision
    0204): one INSERT per table, the lines as one multi-row statement, and across the placements of one
    batch one multi-row INSERT per table (no unit-of-work flush). The values are taken from the transient
    objects now; ``order`` and ``created`` stay out of any session: they are what the caller answers with.
    A clash on the placement key (a racing double click) raises ``IntegrityError`` from the write."""
    return Inserts((_table(Order), [_row(order)]), (_table(OrderLine), [_row(line) for line in order.lines]),
                   (_table(OrderEvent), [_row(created)]))


async def timeline(session: AsyncSession, order_id: str) -> list[OrderEvent]:
    return list(await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
