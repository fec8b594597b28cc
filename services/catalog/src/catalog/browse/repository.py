"""The read side's one query that stays in the database: the product page (C9, C10). Lists,
searches, home buckets and category pages are read from the search projection and the category tree
kept with it (``catalog.search``, docs/decisions/0111).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from catalog.buyability import can_buy_clause
from catalog.models import CatalogType, Category, ListingStatus, Product, SellerRating


@dataclass(frozen=True)
class ProductPageRow:
    product: Product
    can_buy: bool
    seller_rating_sum: int | None  # None: the seller has no rating yet
    seller_rating_count: int | None


class BrowseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def visible_product(self, product_id: uuid.UUID, hidden_category_ids: Sequence[int]) -> ProductPageRow | None:
        """C5: published, active, not in a hidden category (``hidden_category_ids``: inactive ones and
        the children of inactive roots, from the category tree). The product with its category (and
        parent), images, whether it can be bought (C10) and its seller's rating: one statement, plus
        one for the images and, for a FILE, one for its files."""
        conditions = [Product.id == product_id, Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true()]
        if hidden_category_ids:
            conditions.append(Product.category_id.not_in(hidden_category_ids))
        stmt = (
            sa.select(Product, can_buy_clause().label("can_buy"), SellerRating.rating_sum, SellerRating.rating_count)
            .outerjoin(SellerRating, SellerRating.seller_id == Product.seller_id)
            .options(
                selectinload(Product.images),
                joinedload(Product.category).joinedload(Category.parent),
            )
            .where(*conditions)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        product, buyable, seller_sum, seller_count = row
        if product.kind is CatalogType.FILE:
            await self.session.refresh(product, ["assets"])
        return ProductPageRow(product=product, can_buy=bool(buyable), seller_rating_sum=seller_sum,
                              seller_rating_count=seller_count)
