"""Queries behind the projections of other services' facts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.models import Product


async def product(session: AsyncSession, product_id: str) -> Product | None:
    return await session.get(Product, product_id, with_for_update=True)
