"""Digital asset queries."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import DigitalAsset


async def get(session: AsyncSession, asset_id: uuid.UUID) -> DigitalAsset | None:
    return await session.get(DigitalAsset, asset_id)


async def for_product(session: AsyncSession, product_id: uuid.UUID) -> list[DigitalAsset]:
    rows = await session.scalars(
        select(DigitalAsset).where(DigitalAsset.product_id == product_id).order_by(DigitalAsset.created_at, DigitalAsset.id)
    )
    return list(rows.all())
