"""O8: a buyer's orders (all) and purchases (paid, with downloads), a seller's paid orders with only
their own lines, owners see every paid order; 20 a page, newest first."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity
from homecraft_shared.inputs import Page
from orders.domain import Status
from orders.models import Order
from orders.placing.service import to_out
from orders.views import repository
from orders.views.schemas import OrderPage


async def my_orders(session: AsyncSession, identity: Identity, page: Page) -> OrderPage:
    rows, total = await repository.page(session, [Order.buyer_id == identity.user_id], offset=page.offset, limit=page.limit)
    return OrderPage(items=[to_out(o) for o in rows], page=page.page, total=total)


async def my_purchases(session: AsyncSession, identity: Identity, page: Page) -> OrderPage:
    rows, total = await repository.page(session, [Order.buyer_id == identity.user_id, Order.status == Status.PAID.value],
                                        offset=page.offset, limit=page.limit, newest_by_paid=True)
    return OrderPage(items=[to_out(o) for o in rows], page=page.page, total=total)


async def seller_orders(session: AsyncSession, identity: Identity, page: Page) -> OrderPage:
    if not identity.is_seller:
        raise Forbidden("Only sellers have sold orders: turn on selling in your profile first.")
    conditions: list[ColumnElement[bool]] = [Order.paid_at.is_not(None)]
    if not identity.is_owner:
        conditions.append(repository.has_line_of(identity.user_id))
    rows, total = await repository.page(session, conditions, offset=page.offset, limit=page.limit, newest_by_paid=True)
    items = []
    for order in rows:
        out = to_out(order)
        if not identity.is_owner:
            # Another seller's lines, and the buyer's contact, are not this seller's business.
            out.lines = [line for line in out.lines if line.seller_id == identity.user_id]
            out.guest_email = None
        items.append(out)
    return OrderPage(items=items, page=page.page, total=total)
