"""Image queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import ProductImage


async def by_storage_key(session: AsyncSession, storage_key: str) -> ProductImage | None:
    return await session.scalar(select(ProductImage).where(ProductImage.storage_key == storage_key))
