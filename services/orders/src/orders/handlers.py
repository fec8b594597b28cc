"""Every event the orders service consumes, registered in one place.

Each handler runs in the consumer's transaction with the inbox row, so its effect (and any event or
email it queues) happens once per event; ``orders.facts.service`` also makes each fact idempotent
by the order's own state, since payments may report the same Stripe fact in more than one event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.payments import (
    PaymentCheckoutCompletedV1,
    PaymentCheckoutSessionCreatedV1,
    PaymentDisputeUpdatedV1,
    PaymentRefundedV1,
    PayoutSkippedV1,
    PayoutTransferCreatedV1,
)
from homecraft_shared.http_client import ServiceClient
from homecraft_shared.identity import ServiceSigner
from homecraft_shared.messaging.consumer import HandlerRegistry
from homecraft_shared.messaging.envelope import EventEnvelope
from orders import emails
from orders.facts import service as facts
from orders.facts import sessions
from orders.settings import OrdersSettings

handlers = HandlerRegistry(consumer_name="orders")


@dataclass
class HandlerContext:
    """What handlers need beyond the session; bound by the app at start (orders.app)."""

    settings: OrdersSettings
    catalog: ServiceClient
    signer: ServiceSigner | None


CONTEXT: dict[str, HandlerContext] = {}


def bind(context: HandlerContext) -> None:
    CONTEXT["current"] = context


@handlers.on(PaymentCheckoutSessionCreatedV1, reads=(
    "order_id", "checkout_session_id", "amount_total_cents", "currency"))
async def on_checkout_session_created(session: AsyncSession, data: PaymentCheckoutSessionCreatedV1,
                                      _: EventEnvelope) -> None:
    """O4: the timeline's "stripe_session_created", once per session."""
    await sessions.session_created(session, data)


@handlers.on(PaymentCheckoutCompletedV1, reads=(
    "order_id", "checkout_session_id", "payment_intent_id", "charge_id", "amount_total_cents", "currency",
    "shipping", "completed_at"))
async def on_checkout_completed(session: AsyncSession, data: PaymentCheckoutCompletedV1, _: EventEnvelope) -> None:
    order = await facts.checkout_completed(session, data)
    if order is not None and order.is_guest:
        context = CONTEXT["current"]
        await emails.queue_guest_paid_email(session, context.catalog, context.settings, order, context.signer)


@handlers.on(PayoutTransferCreatedV1, reads=(
    "order_id", "seller_id", "transfer_id", "amount_cents", "currency", "seller_net_cents", "balance_before_cents",
    "created_at"))
async def on_transfer_created(session: AsyncSession, data: PayoutTransferCreatedV1, _: EventEnvelope) -> None:
    await facts.transfer_created(session, data)


@handlers.on(PayoutSkippedV1, reads=(
    "order_id", "seller_id", "reason", "message", "seller_net_cents", "balance_before_cents", "skipped_at"))
async def on_payout_skipped(session: AsyncSession, data: PayoutSkippedV1, _: EventEnvelope) -> None:
    await facts.payout_skipped(session, data)


@handlers.on(PaymentRefundedV1, reads=(
    "order_id", "refund_id", "status", "amount_cents", "currency", "line_ids", "debits", "fully_refunded",
    "observed_at"))
async def on_payment_refunded(session: AsyncSession, data: PaymentRefundedV1, _: EventEnvelope) -> None:
    await facts.refunded(session, data)


@handlers.on(PaymentDisputeUpdatedV1, reads=(
    "order_id", "dispute_id", "phase", "status", "reason", "amount_cents", "currency", "chargeback_debits",
    "observed_at"))
async def on_dispute_updated(session: AsyncSession, data: PaymentDisputeUpdatedV1, _: EventEnvelope) -> None:
    await facts.dispute_updated(session, data)
