"""Category queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import CatalogType, Category


async def get(session: AsyncSession, category_id: int) -> Category | None:
    return await session.get(Category, category_id)


async def slug_taken(
    session: AsyncSession, type_: CatalogType, parent_key: int, slug: str, *, excluding: int | None = None
) -> bool:
    query = select(Category.id).where(Category.type == type_, Category.parent_key == parent_key, Category.slug == slug)
    if excluding is not None:
        query = query.where(Category.id != excluding)
    return (await session.scalar(query.limit(1))) is not None


async def list_all(session: AsyncSession, *, include_inactive: bool) -> list[Category]:
    query = select(Category).order_by(Category.type, Category.sort_order, Category.name, Category.id)
    if not include_inactive:
        query = query.where(Category.is_active.is_(True))
    return list((await session.scalars(query)).all())
