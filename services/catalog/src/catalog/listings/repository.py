"""Listing queries."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from catalog.models import ListingStatus, Product
from homecraft_shared.db import dialect_of


async def get_listing(session: AsyncSession, product_id: uuid.UUID, *, for_update: bool = False) -> Product | None:
    """The product with its category, images and assets loaded, fresh from the database.

    ``for_update`` serializes concurrent changes to one listing (e.g. two first images both becoming
    primary) until the transaction ends: a row lock on PostgreSQL; on SQLite, which ignores FOR UPDATE
    and whose driver opens a transaction only at the first write, a no-op UPDATE of the row that takes
    the database's write lock before anything is read.
    """
    if for_update and dialect_of(session) == "sqlite":
        await session.execute(
            update(Product)
            .where(Product.id == product_id)
            .values(seller_id=Product.seller_id, updated_at=Product.updated_at)
            .execution_options(synchronize_session=False)
        )
    query = (
        select(Product)
        .where(Product.id == product_id)
        .options(selectinload(Product.images), selectinload(Product.assets), selectinload(Product.category))
        .execution_options(populate_existing=True)
    )
    if for_update:
        query = query.with_for_update(of=Product)
    return await session.scalar(query)


async def seller_slugs_with_prefix(session: AsyncSession, seller_id: str, prefix: str) -> set[str]:
    rows = await session.scalars(select(Product.slug).where(Product.seller_id == seller_id, Product.slug.startswith(prefix)))
    return set(rows.all())


async def page_for_seller(
    session: AsyncSession, seller_id: str | None, status: ListingStatus | None, *, page: int, page_size: int
) -> tuple[list[Product], int]:
    """A seller's listings (all sellers' when ``seller_id`` is None), newest first, drafts included."""
    conditions = []
    if seller_id is not None:
        conditions.append(Product.seller_id == seller_id)
    if status is not None:
        conditions.append(Product.status == status)
    total = await session.scalar(select(func.count()).select_from(Product).where(*conditions)) or 0
    rows = await session.scalars(
        select(Product)
        .where(*conditions)
        .options(selectinload(Product.images))
        .order_by(Product.created_at.desc(), Product.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows.all()), total
