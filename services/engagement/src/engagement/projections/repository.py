"""Queries behind the projections of other services' facts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import ProductFact, PurchasedLine


async def product(session: AsyncSession, product_id: str) -> ProductFact | None:
    return await session.get(ProductFact, product_id, with_for_update=True)


async def lines(session: AsyncSession, line_ids: list[str]) -> dict[str, PurchasedLine]:
    rows = await session.scalars(select(PurchasedLine).where(PurchasedLine.line_id.in_(line_ids)))
    return {line.line_id: line for line in rows}


async def order_lines(session: AsyncSession, order_id: str) -> list[PurchasedLine]:
    rows = await session.scalars(select(PurchasedLine).where(PurchasedLine.order_id == order_id))
    return list(rows.all())
