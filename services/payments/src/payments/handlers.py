"""Every event the payments service consumes, registered in one place.

Each handler runs in the consumer's transaction with the inbox row, so its effect happens once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.orders import OrderPaidV1
from homecraft_shared.events.payments import StripeEventReceivedV1
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.envelope import EventEnvelope
from payments.paid_orders import repository as paid_orders
from payments.paid_orders import service as projection
from payments.payouts import service as payouts
from payments.webhooks import processing

handlers = HandlerRegistry(consumer_name="payments")


@handlers.on(OrderPaidV1, reads=(
    "order_id", "buyer_id", "currency", "subtotal_cents", "tax_cents", "shipping_cents", "total_cents",
    "marketplace_percent", "payment_method", "checkout_session_id", "payment_intent_id", "charge_id", "paid_at",
    "lines.line_id", "lines.product_id", "lines.seller_id", "lines.title", "lines.quantity", "lines.gross_cents",
    "lines.fee_cents", "lines.net_cents",
))
async def on_order_paid(session: AsyncSession, data: OrderPaidV1, _: EventEnvelope) -> None:
    """P5: project the order, credit the sales, pay out; then run Stripe events that waited for it."""
    if await projection.project(session, data) is None:
        return
    order = await paid_orders.get(session, data.order_id)
    assert order is not None
    await payouts.record_sales(session, order)
    await processing.resume_waiting(session, order)  # e.g. a refund seen before order.paid
    await payouts.pay_out(session, order)


@handlers.read_ahead_for(StripeEventReceivedV1)
async def read_stored_events(session: AsyncSession, events: Sequence[StripeEventReceivedV1]) -> None:
    """A batch's stored Stripe events in one statement, before their handlers run (decision 0317)."""
    await processing.read_ahead(session, [event.stripe_event_id for event in events])


@handlers.on(StripeEventReceivedV1, reads=("stripe_event_id",))
async def on_stripe_event_received(session: AsyncSession, data: StripeEventReceivedV1, _: EventEnvelope) -> None:
    """P4: process a stored Stripe event (its row says whether it already was)."""
    row = await processing.stored_event(session, data.stripe_event_id)
    if row is None:
        raise LookupError(f"stored Stripe event {data.stripe_event_id} not found")
    await processing.process(session, row)
