"""The read side's queries that stay in the database: the hidden categories (C5; kept by the read
cache, ``catalog.browse.cache``), category pages' category, children and chip counts (C8), and the
product page (C9, C10). Lists, searches and home buckets are read from the search projection
(``catalog.search``, docs/decisions/0111).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload

from catalog.browse.cache import NO_CACHE, BrowseCache
from catalog.buyability import can_buy_clause
from catalog.models import CatalogType, Category, ListingStatus, Product, SellerRating


@dataclass(frozen=True)
class ProductPageRow:
    product: Product
    can_buy: bool
    seller_rating_sum: int | None  # None: the seller has no rating yet
    seller_rating_count: int | None


def visible_category_ids() -> sa.Select[int]:
    """Active categories whose parent (if any) is active too: a product under an inactive root is hidden."""
    parent = aliased(Category)
    return (
        sa.select(Category.id)
        .outerjoin(parent, Category.parent_id == parent.id)
        .where(Category.is_active == sa.true(), sa.or_(Category.parent_id.is_(None), parent.is_active == sa.true()))
    )


def hidden_category_ids() -> sa.Select[int]:
    """The complement of ``visible_category_ids``: inactive categories and the children of inactive roots."""
    parent = aliased(Category)
    return (
        sa.select(Category.id)
        .outerjoin(parent, Category.parent_id == parent.id)
        .where(sa.or_(Category.is_active == sa.false(), parent.is_active == sa.false()))
    )


class BrowseRepository:
    """One per request: the hidden categories are looked up once and reused by every query.

    ``cache`` (the app's, see ``catalog.browse.cache``) holds the hidden categories for a few seconds.
    """

    def __init__(self, session: AsyncSession, cache: BrowseCache = NO_CACHE) -> None:
        self.session = session
        self.cache = cache
        self._hidden: tuple[int, ...] | None = None

    async def visible(self) -> tuple[Any, ...]:
        """C5: published, active, in an active category (whose root is active too).

        Categories are few and nearly always all active, so the inactive ones are fetched first (one
        small query per request) and excluded by id, or not at all: the product queries then need no
        join or subquery and counts run on an index alone.
        """
        if self._hidden is None:
            self._hidden = await self.cache.hidden_categories.get_or_load(None, self._load_hidden)
        conditions: tuple[Any, ...] = (Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true())
        if self._hidden:
            conditions += (Product.category_id.not_in(self._hidden),)
        return conditions

    async def hidden_category_ids(self) -> tuple[int, ...]:
        """Inactive categories and the children of inactive roots (kept by the read cache)."""
        await self.visible()
        return self._hidden or ()

    async def _load_hidden(self) -> tuple[int, ...]:
        return tuple((await self.session.execute(hidden_category_ids())).scalars())

    # -- categories ------------------------------------------------------------------------------

    async def visible_category(self, category_id: int) -> Category | None:
        stmt = (
            sa.select(Category)
            .options(joinedload(Category.parent))
            .where(Category.id == category_id, Category.id.in_(visible_category_ids()))
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def active_children(self, category_id: int) -> list[Category]:
        stmt = (
            sa.select(Category)
            .where(Category.parent_id == category_id, Category.is_active == sa.true())
            .order_by(Category.sort_order, Category.name, Category.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def counts_by_category(self, category_ids: Sequence[int]) -> dict[int, int]:
        if not category_ids:
            return {}
        stmt = (
            sa.select(Product.category_id, sa.func.count())
            .where(*await self.visible(), Product.category_id.in_(category_ids))
            .group_by(Product.category_id)
        )
        return {category_id: int(n) for category_id, n in await self.session.execute(stmt)}

    # -- product page ----------------------------------------------------------------------------

    async def visible_product(self, product_id: uuid.UUID) -> ProductPageRow | None:
        """The product with its category (and parent), images, whether it can be bought (C10) and its
        seller's rating: one statement, plus one for the images and, for a FILE, one for its files."""
        stmt = (
            sa.select(Product, can_buy_clause().label("can_buy"), SellerRating.rating_sum, SellerRating.rating_count)
            .outerjoin(SellerRating, SellerRating.seller_id == Product.seller_id)
            .options(
                selectinload(Product.images),
                joinedload(Product.category).joinedload(Category.parent),
            )
            .where(Product.id == product_id, *await self.visible())
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        product, buyable, seller_sum, seller_count = row
        if product.kind is CatalogType.FILE:
            await self.session.refresh(product, ["assets"])
        return ProductPageRow(product=product, can_buy=bool(buyable), seller_rating_sum=seller_sum,
                              seller_rating_count=seller_count)
