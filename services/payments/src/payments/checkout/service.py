"""Checkout Sessions (P3), built from the order as the orders service reports it, never from the browser.

The orders service's own checkout step runs first (forwarding the caller's identity or guest token):
it authorizes the caller, re-checks the order (pending, not empty) and every seller's readiness at
that instant (O5), and pays a free order at once (O3) -- which then never reaches Stripe. Only a
payable order gets a session: line items from the snapshot, metadata and payment-intent metadata
with order id and token, client_reference_id, required billing address, the guest's email, shipping
address and phone only when a line requires shipping (the allowed countries, S1), and an idempotency
key from order id, total, currency and kind, so asking twice gives the same session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import flush_or_conflict, utcnow
from homecraft_shared.errors import Problem
from homecraft_shared.events.payments import PaymentCheckoutSessionCreatedV1
from homecraft_shared.http_client import ServiceUnavailable
from homecraft_shared.messaging.outbox import record_event
from payments.checkout.schemas import CheckoutStarted
from payments.deps import deps
from payments.models import Checkout
from payments.stripe_gateway import idempotency

RELAYED_STATUSES = frozenset({401, 403, 404, 409, 422})


class OrdersUnavailable(Problem):
    status = 503
    title = "Orders unavailable"


def idempotency_key(order: dict[str, Any]) -> str:
    """P3: from order id, total, currency and kind (a changed order is a new session)."""
    base = f"{order['id']}:{order['total_cents']}:{order['currency']}:{order['kind']}"
    return f"checkout_session:{order['id']}:{hashlib.sha256(base.encode()).hexdigest()[:12]}:v1"


def session_params(order: dict[str, Any], *, token: str | None, allowed_countries: list[str],
                   public_base_url: str) -> dict[str, Any]:
    base = public_base_url.rstrip("/")
    order_id = str(order["id"])
    line_items: list[dict[str, Any]] = [{
        "price_data": {"currency": order["currency"].lower(), "unit_amount": int(line["unit_price_cents"]),
                       "product_data": {"name": str(line["title"])[:250] or f"Product {line['product_id']}"}},
        "quantity": int(line["quantity"]),
    } for line in order["lines"]]
    if int(order["tax_cents"]):
        line_items.append(_fee_line(order, "Tax", int(order["tax_cents"])))
    if int(order["shipping_cents"]):
        line_items.append(_fee_line(order, "Shipping", int(order["shipping_cents"])))
    if sum(item["price_data"]["unit_amount"] * item["quantity"] for item in line_items) != int(order["total_cents"]):
        raise Problem(f"Order {order_id} does not add up (lines + tax + shipping != total); not sent to Stripe.",
                      status=409, title="Order inconsistent")
    cancel = f"{base}/orders/{quote(order_id)}/checkout/cancel" + (f"?t={quote(token)}" if token else "")
    metadata = {"order_id": order_id, "order_token": token or "", "kind": str(order["kind"])}
    params: dict[str, Any] = {
        "mode": "payment", "line_items": line_items,
        "success_url": f"{base}/orders/checkout/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": cancel, "client_reference_id": order_id, "metadata": metadata,
        "payment_intent_data": {"metadata": {"order_id": order_id, "order_token": token or ""}},
        "billing_address_collection": "required",
    }
    if order.get("guest_email"):
        params["customer_email"] = order["guest_email"]
    if any(line.get("requires_shipping") for line in order["lines"]):
        params["shipping_address_collection"] = {"allowed_countries": [c.upper() for c in allowed_countries] or ["US"]}
        params["phone_number_collection"] = {"enabled": True}
    return params


def _created_at(created: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(created), dt.UTC) if isinstance(created, int) else utcnow()


def _fee_line(order: dict[str, Any], name: str, cents: int) -> dict[str, Any]:
    return {"price_data": {"currency": order["currency"].lower(), "unit_amount": cents, "product_data": {"name": name}},
            "quantity": 1}


async def _orders_call(session: AsyncSession, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = await deps(session).orders.request(method, url, **kwargs)
    except ServiceUnavailable as exc:
        raise OrdersUnavailable("The orders service cannot be reached; try again in a moment.") from exc
    if response.status_code >= 500:
        raise OrdersUnavailable("The orders service failed; try again in a moment.")
    if response.status_code >= 400:
        body: dict[str, Any] = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        # orders' refusal passed on as it is (who may: 401/403/404; the order's state: 409; its input: 422);
        # anything else it answers is a conflict with what orders will do now
        relayed = response.status_code if response.status_code in RELAYED_STATUSES else 409
        raise Problem(str(body.get("detail") or f"The orders service refused ({response.status_code})."),
                      status=relayed, title=str(body.get("title") or "Refused by orders"))
    answer: dict[str, Any] = response.json()
    return answer


async def start(session: AsyncSession, order_id: str, token: str | None) -> CheckoutStarted:
    params = {"t": token} if token else None
    checked = await _orders_call(session, "POST", f"/orders/{quote(order_id)}/checkout", params=params)
    order = checked["order"]
    if not checked.get("payment_required", True) or int(order["total_cents"]) == 0:
        return CheckoutStarted(order_id=order_id, payment_required=False)
    config = await _orders_call(session, "GET", "/site-config")
    settings = deps(session).settings
    key = idempotency_key(order)
    stripe_session = await deps(session).stripe.v1.checkout.sessions.create_async(
        session_params(order, token=token, allowed_countries=list(config.get("allowed_countries") or ["US"]),
                       public_base_url=settings.public_base_url),
        idempotency(key))
    row = await session.get(Checkout, order_id)
    if row is None:
        row = Checkout(order_id=order_id)
        session.add(row)
    if row.completed_at is None and row.checkout_session_id != stripe_session.id:
        # A new session (not the same one asked for again): orders puts it in the timeline (O4).
        record_event(session, PaymentCheckoutSessionCreatedV1(
            order_id=order_id, checkout_session_id=stripe_session.id, amount_total_cents=int(order["total_cents"]),
            currency=order["currency"].lower(), created_at=_created_at(getattr(stripe_session, "created", None))),
            subject_id=order_id)
    if row.completed_at is None:  # a completed one keeps the session that was paid
        row.checkout_session_id = stripe_session.id
        row.idempotency_key = key
        row.url = stripe_session.url
        row.amount_total_cents = int(order["total_cents"])
        row.currency = order["currency"].lower()
    # Two requests for the same order at once both got the same session (the idempotency key); one records it.
    await flush_or_conflict(session, "A checkout for this order is being started by another request; "
                                     "try again in a moment to get its payment page.")
    return CheckoutStarted(order_id=order_id, payment_required=True, checkout_session_id=stripe_session.id,
                           url=stripe_session.url)
