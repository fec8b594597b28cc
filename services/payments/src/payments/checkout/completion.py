"""``checkout.session.completed`` (P4): the payment's facts go to the orders service, which marks the
order paid (O3) and answers with ``order.paid``; payouts follow from that (P5)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.payments import PaymentCheckoutCompletedV1, ShippingDetails
from homecraft_shared.messaging.outbox import record_event
from payments.deps import deps
from payments.models import Checkout, PaidOrder
from payments.stripe_objects import as_dict, object_id, text
from payments.webhooks.processing import Outcome, StripeFact


def order_id_of(session_obj: dict[str, Any]) -> str:
    metadata = session_obj.get("metadata") or {}
    return text(metadata.get("order_id")) or text(session_obj.get("client_reference_id"))


def shipping_of(session_obj: dict[str, Any]) -> ShippingDetails | None:
    """The shipping address Checkout collected (newer API versions nest it under collected_information)."""
    collected = session_obj.get("collected_information") or {}
    shipping = session_obj.get("shipping_details") or collected.get("shipping_details") or {}
    customer = session_obj.get("customer_details") or {}
    address = shipping.get("address") or {}
    if not address:
        return None
    return ShippingDetails(
        name=text(shipping.get("name")) or text(customer.get("name")), phone=text(customer.get("phone")),
        line1=text(address.get("line1")), line2=text(address.get("line2")), city=text(address.get("city")),
        state=text(address.get("state")), postal_code=text(address.get("postal_code")),
        country=text(address.get("country")).upper())


async def on_checkout_completed(session: AsyncSession, fact: StripeFact) -> Outcome:
    obj = fact.object
    order_id = order_id_of(obj)
    if not order_id:
        return Outcome.ignored("checkout session without an order id (metadata.order_id / client_reference_id)")
    if obj.get("payment_status") not in ("paid", "no_payment_required"):
        return Outcome.ignored(f"checkout session {obj.get('id')} completed unpaid ({obj.get('payment_status')})")
    payment_intent_id = object_id(obj.get("payment_intent"))
    if not payment_intent_id:
        raise ValueError(f"paid checkout session {obj.get('id')} has no payment_intent")
    intent = await deps(session).stripe.v1.payment_intents.retrieve_async(payment_intent_id)
    charge_id = object_id(as_dict(intent).get("latest_charge")) or None
    amount = int(obj.get("amount_total") or 0)
    currency = text(obj.get("currency")).lower() or "usd"
    checkout = await session.get(Checkout, order_id)
    if checkout is None:
        checkout = Checkout(order_id=order_id)
        session.add(checkout)
    checkout.checkout_session_id = checkout.checkout_session_id or text(obj.get("id"))
    checkout.payment_intent_id = checkout.payment_intent_id or payment_intent_id
    checkout.charge_id = checkout.charge_id or charge_id
    checkout.amount_total_cents = amount
    checkout.currency = currency
    checkout.completed_at = checkout.completed_at or fact.created
    order = await session.get(PaidOrder, order_id)
    if order is not None and not order.charge_id:
        order.charge_id = charge_id
    customer = obj.get("customer_details") or {}
    record_event(session, PaymentCheckoutCompletedV1(
        order_id=order_id, checkout_session_id=text(obj.get("id")), payment_intent_id=payment_intent_id,
        charge_id=charge_id, amount_total_cents=amount, currency=currency,
        customer_email=text(customer.get("email")) or text(obj.get("customer_email")) or None,
        shipping=shipping_of(obj), stripe_event_id=fact.event_id,
        completed_at=fact.created if isinstance(fact.created, dt.datetime) else dt.datetime.now(dt.UTC),
    ), subject_id=order_id)
    return Outcome.done(f"order {order_id} paid by {payment_intent_id} (charge {charge_id})")
