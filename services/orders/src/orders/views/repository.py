from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from orders.models import Order, OrderLine


async def page(session: AsyncSession, conditions: Sequence[ColumnElement[bool]], *, offset: int, limit: int,
               newest_by_paid: bool = False) -> tuple[list[Order], int]:
    order_by = (Order.paid_at.desc(), Order.id.desc()) if newest_by_paid else (Order.created_at.desc(), Order.id.desc())
    rows = list(await session.scalars(select(Order).where(*conditions).order_by(*order_by).offset(offset).limit(limit)))
    total = await session.scalar(select(func.count()).select_from(Order).where(*conditions)) or 0
    return rows, total


def has_line_of(seller_id: str) -> ColumnElement[bool]:
    return exists().where(OrderLine.order_id == Order.id, OrderLine.seller_id == seller_id)
