"""Orders' and payments' facts kept locally: which lines of which paid orders can be refunded (R1).
Idempotent: the inbox gives each event once, and a repeated fact changes nothing."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.orders import OrderPaidV1, OrderRefundedV1
from homecraft_shared.events.payments import PaymentRefundedV1
from refunds.models import PaidLine, PaidOrder
from refunds.requests import service as requests


async def apply_order_paid(session: AsyncSession, data: OrderPaidV1) -> None:
    if await session.get(PaidOrder, data.order_id) is not None:
        return
    session.add(PaidOrder(
        order_id=data.order_id, buyer_id=data.buyer_id, guest_email=data.guest_email, currency=data.currency,
        tax_cents=data.tax_cents, shipping_cents=data.shipping_cents, total_cents=data.total_cents,
        is_free=data.payment_method == "free" or data.total_cents == 0, refunded_cents=0, paid_at=data.paid_at,
    ))
    await session.flush()  # the lines reference the order
    for position, line in enumerate(data.lines):
        session.add(PaidLine(
            line_id=line.line_id, order_id=data.order_id, position=position, product_id=line.product_id,
            seller_id=line.seller_id, title=line.title, is_digital=line.is_digital,
            requires_shipping=line.requires_shipping, gross_cents=line.gross_cents, net_cents=line.net_cents,
        ))


async def apply_order_refunded(session: AsyncSession, data: OrderRefundedV1) -> None:
    order = await session.get(PaidOrder, data.order_id)
    if order is not None and order.refunded_at is None:
        order.refunded_at = data.refunded_at
        order.refunded_cents = max(order.refunded_cents, data.refunded_cents)


async def apply_payment_refunded(session: AsyncSession, data: PaymentRefundedV1) -> None:
    order = await session.get(PaidOrder, data.order_id)
    if order is not None and data.status == "succeeded":
        # Totals only grow; a late, older fact never lowers them.
        order.refunded_cents = max(order.refunded_cents, data.refunded_total_cents)
    if data.refund_request_id and data.status == "succeeded":
        await requests.mark_refunded(session, data.refund_request_id, data.refund_id, data.observed_at)
