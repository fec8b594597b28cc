"""The whole purchase (P3, P4, P5, O3, O5): catalog and orders as real processes, payments against the
Stripe stand-in. A buyer places an order with the orders service, asks payments for a Checkout
Session (built from the order as orders reports it, never from the browser), pays on the stand-in's
hosted page; the signed webhook reaches payments, orders marks the order paid, and the payout
appears in the seller's ledger."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from standin_support import Stand, running_stand
from support import eventually

from homecraft_shared.identity import generate_keypair
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing import bearer
from homecraft_shared.testing.infra import free_port
from payments.models import Payout


def start(module: str, env: dict[str, str], work: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = work / f"{module}.log"
    process = subprocess.Popen([sys.executable, "-m", module, "serve", "--port", str(port)], env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{module} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture
def shop(tmp_path: Path, nats_url: str, identity_keys: tuple[str, str]) -> Iterator[dict[str, str]]:
    """The seeded demo catalog and the orders service, as processes (SQLite files of their own)."""
    base = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Orders asks the catalog's internal price lookup as itself: its own key, trusted by the catalog.
    orders_private, orders_public = generate_keypair()
    catalog_env = {**base, "CATALOG_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}",
                   "CATALOG_NATS_URL": nats_url, "CATALOG_IDENTITY_PUBLIC_KEY": identity_keys[1],
                   "CATALOG_TRUSTED_SERVICE_KEYS": json.dumps({"orders": orders_public}),
                   "CATALOG_MEDIA_ROOT": str(tmp_path / "media"), "CATALOG_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "catalog", "seed"], env=catalog_env, check=True, capture_output=True)
    processes = []
    try:
        catalog, catalog_url = start("catalog", catalog_env, tmp_path)
        processes.append(catalog)
        orders, orders_url = start("orders", {
            **base, "ORDERS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}", "ORDERS_NATS_URL": nats_url,
            "ORDERS_IDENTITY_PUBLIC_KEY": identity_keys[1], "ORDERS_SERVICE_PRIVATE_KEY": orders_private,
            "ORDERS_LOG_LEVEL": "WARNING",
            "ORDERS_CATALOG_URL": catalog_url, "ORDERS_SMTP_PORT": str(free_port()),
            "ORDERS_CONSUMER_BACKOFF_SECONDS": "[0.2, 0.5, 1.0]"}, tmp_path)
        processes.append(orders)
        yield {"catalog": catalog_url, "orders": orders_url}
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
async def stand(shop: dict[str, str], database_url: str, nats_url: str,
                identity_keys: tuple[str, str]) -> AsyncIterator[Stand]:
    async with running_stand(database_url, nats_url, identity_keys, orders_url=shop["orders"]) as running:
        yield running


async def test_purchase_paid_on_the_hosted_page_pays_the_seller(stand: Stand, shop: dict[str, str]) -> None:
    account = await stand.ready_seller("seller-ada")
    async with httpx.AsyncClient(timeout=30) as http:
        products = (await http.get(f"{shop['catalog']}/browse", params={"page_size": 48})).json()["items"]
        model = next(p for p in products if p["seller_id"] == "seller-ada" and p["kind"] == "MODEL" and p["price_cents"] > 0)
        buyer = bearer(stand.private_key, "buyer-1", username="buyer")
        placed = await http.post(f"{shop['orders']}/orders", json={"lines": [{"product_id": model["id"], "quantity": 2}]},
                                 headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
        assert placed.status_code == 201, placed.text
        order = placed.json()

    # P3: someone else cannot open a session for this order (orders says who may)
    stranger = await stand.payments.client.post("/checkout/sessions", json={"order_id": order["id"]},
                                                headers=bearer(stand.private_key, "someone-else"))
    assert stranger.status_code in (403, 404), stranger.text
    # two clicks at once: the same session (the idempotency key, P3); one records it, the other gets it or a 409
    first, second = await asyncio.gather(*(stand.payments.client.post(
        "/checkout/sessions", json={"order_id": order["id"]}, headers=buyer) for _ in range(2)))
    assert sorted([first.status_code, second.status_code])[0] == 200 and {first.status_code, second.status_code} <= {
        200, 409}, (first.text, second.text)
    started = first if first.status_code == 200 else second
    body = started.json()
    assert body["payment_required"] is True and body["url"]
    again = await stand.payments.client.post("/checkout/sessions", json={"order_id": order["id"]}, headers=buyer)
    assert again.json()["checkout_session_id"] == body["checkout_session_id"]  # the idempotency key (P3)
    # the fact for orders' timeline (O4), once for the session although it was asked for twice
    async with stand.payments.sessionmaker() as s:
        facts = [json.loads(row.payload)["data"] for row in (await s.scalars(select(OutboxEvent))).all()
                 if json.loads(row.payload)["type"] == "payment.checkout_session_created"]
    assert facts == [{"order_id": order["id"], "checkout_session_id": body["checkout_session_id"],
                      "amount_total_cents": order["total_cents"], "currency": "usd",
                      "created_at": facts[0]["created_at"]}]

    session = await stand.stripe.v1.checkout.sessions.retrieve_async(body["checkout_session_id"])
    assert session.amount_total == order["total_cents"] and session.currency == "usd"
    assert session.client_reference_id == order["id"] and session.metadata["order_id"] == order["id"]
    assert session.billing_address_collection == "required"
    assert session.shipping_address_collection.allowed_countries == ["US"]  # a MODEL line ships (S1 countries)
    assert session.phone_number_collection.enabled is True

    # the buyer pays on the stand-in's hosted Checkout page
    async with httpx.AsyncClient(timeout=30) as http:
        page = await http.get(body["url"])
        assert page.status_code == 200 and model["title"] in page.text
    await stand.control("POST", f"/checkout/sessions/{body['checkout_session_id']}/pay")

    async def payout() -> Payout | None:
        async with stand.payments.sessionmaker() as s:
            return await s.get(Payout, (order["id"], "seller-ada"))

    row = await eventually(payout, lambda p: p is not None and p.status != "pending", within=60)
    net = sum(line["net_cents"] for line in order["lines"])
    assert (row.status, row.amount_cents) == ("transferred", net)
    transfer = await stand.stripe.v1.transfers.retrieve_async(row.transfer_id)
    assert transfer.destination == account and transfer.amount == net
    async with httpx.AsyncClient(timeout=30) as http:
        seen = (await http.get(f"{shop['orders']}/orders/{order['id']}", headers=buyer)).json()
    assert seen["status"] == "paid"
    async with httpx.AsyncClient(timeout=30) as http:
        audited = (await http.get(f"{shop['orders']}/orders/{order['id']}",
                                  headers=bearer(stand.private_key, "boss", "owner"))).json()
    timeline = [entry["type"] for entry in audited["timeline"]]
    assert timeline.count("stripe_session_created") == 1  # O4, consumed by orders over NATS
    assert timeline.index("stripe_session_created") < timeline.index("paid")
    ledger = (await stand.payments.client.get("/payouts/me", headers=bearer(stand.private_key, "seller-ada", "seller"))).json()
    assert ledger["balance_cents"] == 0 and [e["reason"] for e in ledger["entries"]] == ["payout", "sale"]
    mine = await stand.payments.client.get(f"/payouts/me/orders/{order['id']}",
                                           headers=bearer(stand.private_key, "seller-ada", "seller"))
    assert mine.json()["status"] == "transferred" and mine.json()["net_cents"] == net
    other = await stand.payments.client.get(f"/payouts/me/orders/{order['id']}",
                                            headers=bearer(stand.private_key, "seller-grace", "seller"))
    assert other.status_code == 404  # another's order

    # O3: a free order is paid by the orders service at once and never reaches Stripe
    free = next(p for p in products if p["is_free"] and p["seller_id"] == "seller-ada")
    async with httpx.AsyncClient(timeout=30) as http:
        placed = await http.post(f"{shop['orders']}/orders", json={"lines": [{"product_id": free["id"], "quantity": 1}]},
                                 headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
        assert placed.status_code == 201, placed.text
    sessions_before = len((await stand.stripe.v1.checkout.sessions.list_async({"limit": 100})).data)
    free_checkout = await stand.payments.client.post("/checkout/sessions", json={"order_id": placed.json()["id"]},
                                                     headers=buyer)
    assert free_checkout.status_code == 200, free_checkout.text
    assert free_checkout.json() == {"order_id": placed.json()["id"], "payment_required": False,
                                    "checkout_session_id": None, "url": None}
    assert len((await stand.stripe.v1.checkout.sessions.list_async({"limit": 100})).data) == sessions_before
