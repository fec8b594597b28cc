"""Image queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import ProductImage

# catalog.images.domain.primary_first in SQL: the primary image, then the others by sort order, id.
PRIMARY_FIRST = (ProductImage.is_primary.desc(), ProductImage.sort_order, ProductImage.id)


async def by_storage_key(session: AsyncSession, storage_key: str) -> ProductImage | None:
    return await session.scalar(select(ProductImage).where(ProductImage.storage_key == storage_key))


async def primary_image_keys(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each product's primary image (or its first by sort order), for a whole page in one query."""
    if not product_ids:
        return {}
    stmt = (
        select(ProductImage.product_id, ProductImage.storage_key)
        .where(ProductImage.product_id.in_(set(product_ids)))
        .order_by(ProductImage.product_id, *PRIMARY_FIRST)
    )
    keys: dict[uuid.UUID, str] = {}
    for product_id, key in await session.execute(stmt):
        keys.setdefault(product_id, key)
    return keys
