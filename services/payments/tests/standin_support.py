"""The Stripe stand-in and the payments service on real loopback ports, wired to each other:
the official ``stripe`` library calls the stand-in over HTTP, the stand-in delivers signed webhooks to
the payments service over HTTP. Other services' facts (``order.paid``) are published to JetStream
the way their producer publishes them."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import nats
import stripe
from support import Payments, eventually, payments_settings
from support import _current as support_current

from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import ensure_stream
from homecraft_shared.money import percent_of
from homecraft_shared.testing import serve_on_port
from homecraft_shared.testing.infra import free_port
from payments.app import create_app
from stripe_standin.testing import running_standin
from stripe_standin.webhooks import RetryPolicy

API_KEY = "sk_test_payments_suite"
PLATFORM_SECRET = "whsec_payments_suite_platform"
CONNECT_SECRET = "whsec_payments_suite_connect"


@dataclass
class Stand:
    payments: Payments
    stripe: stripe.StripeClient
    standin_url: str
    controls: httpx.AsyncClient
    nats_url: str
    private_key: str

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self.controls.request(method, path, json=body or {})
        assert response.status_code == 200, response.text
        return response.json()

    async def publish_order_paid(self, data: OrderPaidV1) -> None:
        connection = await nats.connect(self.nats_url)
        try:
            js = connection.jetstream()
            await ensure_stream(js, "orders")
            envelope = EventEnvelope(id=uuid.uuid4(), type="order.paid", version=1, source="orders",
                                     occurred_at=dt.datetime.now(dt.UTC), correlation_id=str(uuid.uuid4()),
                                     subject_id=data.order_id, data=data.model_dump(mode="json"))
            await js.publish(envelope.subject, envelope.model_dump_json().encode(),
                             headers={"Nats-Msg-Id": str(envelope.id)})
        finally:
            await connection.close()

    # --- Stripe-side setup, as sellers and buyers do it on the hosted pages ---------------------

    async def ready_seller(self, seller_id: str, state: str = "complete") -> str:
        """Onboard a seller through payments' Connect endpoint and the stand-in's onboarding outcome."""
        response = await self.payments.client.post("/connect/start", json={"email": f"{seller_id}@example.com"},
                                                   headers=self.payments.seller(seller_id))
        assert response.status_code == 200, response.text
        account_id = response.json()["status"]["stripe_account_id"]
        await self.control("POST", f"/accounts/{account_id}/onboarding", {"state": state})
        if state == "complete":
            await eventually(lambda: self.account_ready(seller_id), bool, within=60)
        return account_id

    async def account_ready(self, seller_id: str) -> bool:
        from payments.models import SellerAccount

        async with self.payments.sessionmaker() as session:
            row = await session.get(SellerAccount, seller_id)
            return bool(row and row.ready)

    async def paid_checkout(self, order: OrderPaidV1) -> tuple[str, str]:
        """A Checkout Session for the order (as payments builds them), paid on the stand-in; waits until
        payments processed checkout.session.completed. Returns (payment intent, charge)."""
        params = {
            "mode": "payment", "client_reference_id": order.order_id,
            "line_items": [{"price_data": {"currency": "usd", "unit_amount": line.unit_price_cents,
                                           "product_data": {"name": line.title}}, "quantity": line.quantity}
                           for line in order.lines],
            "success_url": "http://127.0.0.1:9/ok?session_id={CHECKOUT_SESSION_ID}", "cancel_url": "http://127.0.0.1:9/no",
            "metadata": {"order_id": order.order_id, "order_token": ""},
            "payment_intent_data": {"metadata": {"order_id": order.order_id}},
        }
        extra = order.tax_cents + order.shipping_cents
        if extra:
            params["line_items"].append({"price_data": {"currency": "usd", "unit_amount": extra,
                                                        "product_data": {"name": "Tax and shipping"}}, "quantity": 1})
        session = await self.stripe.v1.checkout.sessions.create_async(params)
        await self.control("POST", f"/checkout/sessions/{session.id}/pay")
        from payments.models import Checkout

        async def completed() -> Checkout | None:
            async with self.payments.sessionmaker() as s:
                return await s.get(Checkout, order.order_id)

        row = await eventually(completed, lambda r: r is not None and r.charge_id is not None, within=60)
        return row.payment_intent_id, row.charge_id


def order_paid(order_id: str, lines: list[tuple[str, int]], *, percent: str = "10", tax: int = 0, shipping: int = 0,
               payment_intent_id: str | None = None, charge_id: str | None = None) -> OrderPaidV1:
    """An ``order.paid`` fact with one line per (seller, gross), snapshotted as O2 says."""
    snapshots = []
    for index, (seller, gross) in enumerate(lines):
        fee = percent_of(gross, Decimal(percent))
        snapshots.append(OrderLineSnapshot(
            line_id=f"{order_id}-L{index}", product_id=f"p-{seller}-{index}", seller_id=seller, title=f"Model {index}",
            kind="MODEL", is_digital=False, requires_shipping=True, quantity=1, unit_price_cents=gross,
            gross_cents=gross, fee_cents=fee, net_cents=gross - fee))
    subtotal = sum(gross for _, gross in lines)
    now = dt.datetime.now(dt.UTC)
    return OrderPaidV1(
        order_id=order_id, buyer_id="buyer-1", guest_email=None, payment_method="stripe",
        checkout_session_id=None, payment_intent_id=payment_intent_id, charge_id=charge_id, currency="usd",
        subtotal_cents=subtotal, tax_cents=tax, shipping_cents=shipping, total_cents=subtotal + tax + shipping,
        marketplace_percent=Decimal(percent), kind="physical", placed_at=now, paid_at=now, lines=snapshots)


@contextlib.asynccontextmanager
async def running_stand(database_url: str, nats_url: str, keys: tuple[str, str], **overrides: Any) -> AsyncIterator[Stand]:
    port = free_port()
    with running_standin(
            api_key=API_KEY, platform_webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe",
            platform_webhook_secret=PLATFORM_SECRET, connect_webhook_secret=CONNECT_SECRET,
            connect_webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe/connect",
            retry=RetryPolicy(base_seconds=0.1, cap_seconds=1.0, timeout_seconds=5.0)) as standin:
        standin_url = standin.url
        settings = payments_settings(
            database_url, nats_url, keys[1], stripe_api_base=standin_url, stripe_secret_key=API_KEY,
            stripe_webhook_secret=PLATFORM_SECRET, stripe_connect_webhook_secret=CONNECT_SECRET, **overrides)
        app = create_app(settings)
        async with serve_on_port(app, port) as url, httpx.AsyncClient(base_url=url, timeout=30) as client, \
                httpx.AsyncClient(base_url=f"{standin_url}/_standin", timeout=30) as controls:
            client_stripe = stripe.StripeClient(API_KEY, base_addresses={"api": standin_url},
                                                http_client=stripe.HTTPXClient(), max_network_retries=0)
            stand = Stand(Payments(client=client, app=app, private_pem=keys[0]), client_stripe, standin_url, controls,
                          nats_url, keys[0])
            support_current.append(stand.payments)
            try:
                yield stand
            finally:
                support_current.pop()
