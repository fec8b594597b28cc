"""The refunds service executes an approved request through payments as itself (R3, R4; decisions 0201,
0305), with no user behind the call: the operator's bulk refund. Real processes (``python -m refunds
serve``, ``python -m payments serve``), each with its own database, over a real nats-server; payments
talks to the Stripe stand-in through the official library. Refunds signs with its own key, payments
trusts that key for "refunds"; the Stripe refund is made once, the ledger debits the line's seller
once (P7), and the request ends refunded (R5)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import nats
import stripe

from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1
from homecraft_shared.identity import generate_keypair
from homecraft_shared.messaging.contracts import CONTRACTS
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import ensure_stream
from homecraft_shared.testing import bearer
from homecraft_shared.testing.infra import free_port, service_process
from stripe_standin.testing import running_standin

API_KEY = "sk_test_refund_flow"


def eventually(fetch: Callable[[], Any], ok: Callable[[Any], bool], within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"condition not met within {within}s; last value: {value!r}"
        time.sleep(0.1)


async def publish_order_paid(nats_url: str, data: OrderPaidV1) -> None:
    contract = CONTRACTS.for_model(OrderPaidV1)
    event = EventEnvelope(id=uuid.uuid4(), type=contract.type, version=contract.version, source="orders",
                          occurred_at=dt.datetime.now(dt.UTC), correlation_id="refund-flow", subject_id=data.order_id,
                          data=data.model_dump(mode="json"))
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await ensure_stream(js, "orders")
        await js.publish(event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.id)})
    finally:
        await connection.close()


def paid_order(order_id: str, pi: str, ch: str) -> OrderPaidV1:
    now = dt.datetime.now(dt.UTC)
    lines = [OrderLineSnapshot(line_id=f"{order_id}-{seller}", product_id=f"p-{seller}", seller_id=seller,
                               title=f"Print by {seller}", kind="MODEL", is_digital=False, requires_shipping=True,
                               quantity=1, unit_price_cents=gross, gross_cents=gross, fee_cents=gross // 10,
                               net_cents=gross - gross // 10)
             for seller, gross in (("ada", 3000), ("bob", 2000))]
    return OrderPaidV1(order_id=order_id, buyer_id="buyer-1", guest_email=None, payment_method="stripe",
                       checkout_session_id=None, payment_intent_id=pi, charge_id=ch, currency="usd",
                       subtotal_cents=5000, tax_cents=0, shipping_cents=0, total_cents=5000,
                       marketplace_percent="10", kind="physical", placed_at=now, paid_at=now, lines=lines)


def test_the_operators_bulk_refund_reaches_stripe_as_the_refunds_service(
    nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    gateway_private, gateway_public = identity_keys
    refunds_private, refunds_public = generate_keypair()
    nowhere = f"http://127.0.0.1:{free_port()}"
    for name in ("payments", "refunds"):
        (tmp_path / name).mkdir()
    with contextlib.ExitStack() as stack:
        standin = stack.enter_context(running_standin(
            api_key=API_KEY, platform_webhook_url=f"{nowhere}/webhooks/stripe",
            connect_webhook_url=f"{nowhere}/webhooks/stripe/connect"))
        payments = stack.enter_context(service_process(
            "payments", f"sqlite+aiosqlite:///{tmp_path / 'payments' / 'payments.db'}", nats_url, gateway_public,
            tmp_path / "payments", env={
                "PAYMENTS_STRIPE_API_BASE": standin.url, "PAYMENTS_STRIPE_SECRET_KEY": API_KEY,
                "PAYMENTS_ORDERS_URL": nowhere, "PAYMENTS_TRUSTED_SERVICE_KEYS": json.dumps({"refunds": refunds_public}),
                "PAYMENTS_CONSUMER_BACKOFF_SECONDS": "[0.2, 0.5, 1.0]"}))
        refunds = stack.enter_context(service_process(
            "refunds", f"sqlite+aiosqlite:///{tmp_path / 'refunds' / 'refunds.db'}", nats_url, gateway_public,
            tmp_path / "refunds", env={
                "REFUNDS_SERVICE_PRIVATE_KEY": refunds_private, "REFUNDS_PAYMENTS_URL": payments,
                "REFUNDS_ORDERS_URL": nowhere, "REFUNDS_SMTP_PORT": str(free_port()),
                "REFUNDS_CONSUMER_BACKOFF_SECONDS": "[0.2, 0.5, 1.0]"}))
        client = stripe.StripeClient(API_KEY, base_addresses={"api": standin.url}, http_client=stripe.HTTPXClient(allow_sync_methods=True),
                                     max_network_retries=0)
        with httpx.Client(timeout=30) as http:
            # a payment at Stripe (the stand-in's hosted page, paid), then order.paid as orders publishes it
            session = client.v1.checkout.sessions.create({
                "mode": "payment", "success_url": f"{nowhere}/ok", "cancel_url": f"{nowhere}/no",
                "line_items": [{"price_data": {"currency": "usd", "unit_amount": 5000,
                                               "product_data": {"name": "Two prints"}}, "quantity": 1}]})
            assert http.post(f"{standin.url}/_standin/checkout/sessions/{session.id}/pay", json={}).status_code == 200
            paid = client.v1.checkout.sessions.retrieve(session.id)
            intent = client.v1.payment_intents.retrieve(str(paid.payment_intent))
            order_id = f"flow-{uuid.uuid4().hex[:8]}"
            asyncio.run(publish_order_paid(nats_url, paid_order(order_id, intent.id, str(intent.latest_charge))))

            buyer = bearer(gateway_private, "buyer-1")
            asked = eventually(lambda: http.post(f"{refunds}/refund-requests", headers=buyer, json={
                "order_id": order_id, "line_id": f"{order_id}-bob", "reason": "damaged", "note": "cracked"}),
                lambda r: r.status_code != 404)  # until refunds has projected order.paid
            assert asked.status_code == 201, asked.text
            request_id = asked.json()["id"]
            approved = http.post(f"{refunds}/refund-requests/{request_id}/approve", json={},
                                 headers=bearer(gateway_private, "bob", "seller"))
            assert approved.status_code == 200, approved.text

            # until payments has projected order.paid too (bob's sale is in his ledger)
            owner = bearer(gateway_private, "boss", "owner")
            eventually(lambda: http.get(f"{payments}/payouts/sellers/bob", params={"reason": "sale"}, headers=owner).json(),
                       lambda page: page.get("total") == 1)

            # the operator's bulk refund: refunds asks payments with its own token, not the operator's
            bulk = http.post(f"{refunds}/refund-requests/bulk-refund", json={"request_ids": [request_id]}, headers=owner)
            assert bulk.status_code == 200, bulk.text
            assert bulk.json()["results"][0]["ok"] is True, bulk.json()
            seen = eventually(lambda: http.get(f"{refunds}/refund-requests/{request_id}", headers=owner).json(),
                              lambda r: r["status"] == "refunded")
            made = client.v1.refunds.list({"payment_intent": intent.id, "limit": 100}).data
            assert [r.id for r in made] == [seen["stripe_refund_id"]]
            assert made[0].amount == 2000 and made[0].metadata["refund_request_id"] == request_id
            # asked again (a second bulk run): the request is refunded already; no second Stripe refund
            again = http.post(f"{refunds}/refund-requests/bulk-refund", json={"request_ids": [request_id]},
                              headers=owner)
            assert again.status_code == 200 and again.json()["results"][0]["ok"] is False
            assert len(client.v1.refunds.list({"payment_intent": intent.id, "limit": 100}).data) == 1
            # P7: only bob's line is debited, by its net
            bob = http.get(f"{payments}/payouts/sellers/bob", params={"reason": "refund"}, headers=owner).json()
            assert [e["amount_cents"] for e in bob["entries"]] == [-1800]
