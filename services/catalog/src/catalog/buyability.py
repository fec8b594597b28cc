"""C10: whether a product can be bought — its seller is payout-ready (P2) or is an owner.

Readiness comes from the ``seller.payout_readiness_changed`` projection (``SellerPayoutStatus``); an
unknown seller is not ready. Whether the seller is an owner is recorded on the product from the
seller's identity token (``Product.seller_is_owner``; docs/decisions/0101). Listing visibility
(published and active) is a separate question, see ``Product.is_visible``.

For the read side: ``can_buy_clause()`` is a SQL expression over ``Product`` usable in ``select()``
(``select(Product, can_buy_clause().label("can_buy"))``) or ``where()``; ``can_buy`` is the same
rule in Python for rows already loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import Product, SellerPayoutStatus


def can_buy(*, seller_payout_ready: bool, seller_is_owner: bool) -> bool:
    return seller_is_owner or seller_payout_ready


def seller_ready_clause(seller_id: ColumnElement[str] | None = None) -> ColumnElement[bool]:
    """True when the seller (``Product.seller_id`` by default) is payout-ready in the projection."""
    column = Product.seller_id if seller_id is None else seller_id
    return exists().where(SellerPayoutStatus.seller_id == column, SellerPayoutStatus.ready.is_(True))


def can_buy_clause() -> ColumnElement[bool]:
    return or_(Product.seller_is_owner.is_(True), seller_ready_clause())


async def seller_payout_ready(session: AsyncSession, seller_id: str) -> bool:
    ready = await session.scalar(select(SellerPayoutStatus.ready).where(SellerPayoutStatus.seller_id == seller_id))
    return bool(ready)


async def payout_ready_sellers(session: AsyncSession, seller_ids: Iterable[str]) -> set[str]:
    wanted = set(seller_ids)
    if not wanted:
        return set()
    rows = await session.scalars(
        select(SellerPayoutStatus.seller_id).where(
            SellerPayoutStatus.seller_id.in_(wanted), SellerPayoutStatus.ready.is_(True)
        )
    )
    return set(rows.all())


def product_can_buy(product: Product, ready_sellers: set[str]) -> bool:
    return can_buy(seller_payout_ready=product.seller_id in ready_sellers, seller_is_owner=product.seller_is_owner)
