"""Catalog's product facts and orders' paid lines, projected (architecture: "a service keeps a local projection").

Idempotent and order-proof: each fact carries the time it was true at catalog; an older fact than
the one stored is ignored, so a duplicate, late or reordered event leaves the same state. Every
change marks the product's trending score for recomputation (an unlisted product scores 0).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.aggregates import add_to_days, mark_dirty
from engagement.models import ProductFact, PurchasedLine
from engagement.projections import repository
from homecraft_shared.events.catalog import ProductPublishedV1, ProductSnapshot, ProductUnlistedV1, ProductUpdatedV1
from homecraft_shared.events.orders import OrderPaidV1, OrderRefundedV1
from homecraft_shared.events.payments import PaymentRefundedV1


def _copy(product: ProductFact, data: ProductSnapshot) -> None:
    product.seller_id = data.seller_id
    product.kind = data.kind
    product.category_id = data.category_id
    product.title = data.title[:200]


async def _apply(session: AsyncSession, data: ProductSnapshot, *, listed: bool, as_of: dt.datetime) -> None:
    product = await repository.product(session, data.product_id)
    if product is None:
        product = ProductFact(product_id=data.product_id, is_listed=listed, first_published_at=as_of, as_of=as_of)
        _copy(product, data)
        session.add(product)
    elif as_of >= product.as_of:
        _copy(product, data)
        product.is_listed = listed
        product.as_of = as_of
        product.first_published_at = min(product.first_published_at, as_of)
    else:
        return
    await mark_dirty(session, [data.product_id])


async def apply_published(session: AsyncSession, data: ProductPublishedV1) -> None:
    await _apply(session, data, listed=True, as_of=data.published_at)


async def apply_updated(session: AsyncSession, data: ProductUpdatedV1) -> None:
    await _apply(session, data, listed=data.is_active, as_of=data.updated_at)


async def apply_unlisted(session: AsyncSession, data: ProductUnlistedV1) -> None:
    product = await repository.product(session, data.product_id)
    if product is None:
        # Remember the unlisting, so an older "published" arriving late cannot list it.
        session.add(ProductFact(product_id=data.product_id, seller_id=data.seller_id, kind="", category_id="", title="",
                            is_listed=False, first_published_at=data.unlisted_at, as_of=data.unlisted_at))
    elif data.unlisted_at >= product.as_of:
        product.is_listed = False
        product.as_of = data.unlisted_at
    else:
        return
    await mark_dirty(session, [data.product_id])


async def apply_order_paid(session: AsyncSession, data: OrderPaidV1) -> None:
    """Each paid line: a purchase on its paid day (C7, seller analytics) and, for a registered buyer,
    the right to review it (V1) and to rate its seller for this order (V2). A line seen before
    (the same fact again under another event id) changes nothing."""
    known = await repository.lines(session, [line.line_id for line in data.lines])
    day = data.paid_at.astimezone(dt.UTC).date()
    increments: dict[tuple[str, dt.date], dict[str, int]] = {}
    for line in data.lines:
        if line.line_id in known:
            continue
        session.add(PurchasedLine(
            line_id=line.line_id, order_id=data.order_id, buyer_id=data.buyer_id, product_id=line.product_id,
            seller_id=line.seller_id, quantity=line.quantity, gross_cents=line.gross_cents, paid_at=data.paid_at))
        counts = increments.setdefault((line.product_id, day), {"purchases": 0, "revenue_cents": 0})
        counts["purchases"] += 1
        counts["revenue_cents"] += line.gross_cents
    await add_to_days(session, increments)
    await mark_dirty(session, [product_id for product_id, _ in increments])


async def apply_order_refunded(session: AsyncSession, data: OrderRefundedV1) -> None:
    """The order's lines are refunded: their reviews are shown as reviews of a refunded purchase."""
    for line in await repository.order_lines(session, data.order_id):
        if line.refunded_at is None:
            line.refunded_at = data.refunded_at


async def apply_payment_refunded(session: AsyncSession, data: PaymentRefundedV1) -> None:
    """A succeeded Stripe refund of specific lines (a refund request's, R5): those lines are refunded,
    so their reviews show it. A refund not tied to lines marks nothing until the whole order is
    refunded (``order.refunded``, or ``fully_refunded`` here)."""
    if data.status != "succeeded":
        return
    lines = await repository.order_lines(session, data.order_id)
    for line in lines:
        if line.refunded_at is None and (data.fully_refunded or line.line_id in data.line_ids):
            line.refunded_at = data.observed_at
