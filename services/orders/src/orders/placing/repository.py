from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Order, OrderEvent


async def by_id(session: AsyncSession, order_id: str, *, for_update: bool = False) -> Order | None:
    query = select(Order).where(Order.id == order_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def by_placement_key(session: AsyncSession, key: str) -> Order | None:
    return await session.scalar(select(Order).where(Order.placement_key == key))


async def timeline(session: AsyncSession, order_id: str) -> list[OrderEvent]:
    return list(await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)))
