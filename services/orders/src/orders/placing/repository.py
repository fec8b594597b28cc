from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.group_commit import Inserts
from orders.models import Order, OrderEvent, OrderLine


async def by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def by_placement_key(session: AsyncSession, key: str) -> Order | None:
    """The order placed under this placement key, if any (a repeated request, or the racing double click's winner)."""
    return await session.scalar(select(Order).where(Order.placement_key == key))


def _table(model: type[Order | OrderLine | OrderEvent]) -> Table:
    return model.metadata.tables[model.__tablename__]


ORDERS, ORDER_LINES, ORDER_EVENTS = _table(Order), _table(OrderLine), _table(OrderEvent)


def placed_rows(order: dict[str, Any], lines: list[dict[str, Any]], created: dict[str, Any]) -> Inserts:
    """A new order, its lines and its first timeline entry as plain rows for the group commit (decisions 0204,
    0205): one INSERT per table, the lines as one multi-row statement, and across the placements of one batch
    one multi-row INSERT per table (no unit of work, no ORM objects). Every order row names every column of
    ``orders`` (and every line every column of ``order_lines``), so the rows of a batch line up. A clash on
    the placement key (a repeat, or a racing double click) raises ``IntegrityError`` from the write."""
    return Inserts((ORDERS, [order]), (ORDER_LINES, lines), (ORDER_EVENTS, [created]))


async def timeline(session: AsyncSession, order_id: str) -> list[OrderEvent]:
    return list(await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
