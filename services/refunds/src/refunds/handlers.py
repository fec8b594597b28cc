"""Every event the refunds service consumes, registered in one place."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.orders import OrderPaidV1, OrderRefundedV1
from homecraft_shared.events.payments import PaymentRefundedV1
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.envelope import EventEnvelope
from refunds.projections import service as projections

handlers = HandlerRegistry(consumer_name="refunds")


@handlers.on(OrderPaidV1, reads=("order_id", "buyer_id", "guest_email", "currency", "tax_cents", "shipping_cents",
                                 "total_cents", "payment_method", "paid_at", "lines"))
async def on_order_paid(session: AsyncSession, data: OrderPaidV1, _: EventEnvelope) -> None:
    await projections.apply_order_paid(session, data)


@handlers.on(OrderRefundedV1, reads=("order_id", "refunded_cents", "refunded_at"))
async def on_order_refunded(session: AsyncSession, data: OrderRefundedV1, _: EventEnvelope) -> None:
    await projections.apply_order_refunded(session, data)


@handlers.on(PaymentRefundedV1, reads=("order_id", "refund_id", "status", "refund_request_id", "refunded_total_cents",
                                       "observed_at"))
async def on_payment_refunded(session: AsyncSession, data: PaymentRefundedV1, _: EventEnvelope) -> None:
    await projections.apply_payment_refunded(session, data)
