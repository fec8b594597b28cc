"""Buyer and seller views (O8), site configuration (S1), the reconciliation list (A1), the internal API."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from support import Orders
from test_lifecycle import completed, deliver, envelope

from orders.models import SiteConfig
from orders.siteconfig import service as siteconfig

OWNER = ("boss", "owner")


async def test_buyer_sees_all_orders_and_paid_purchases_20_a_page(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    placed = [(await orders.place([(model["id"], 1)], user="buyer-v")).json() for _ in range(22)]
    for order in placed[:3]:
        await deliver(orders, envelope(completed(order), order["id"]))
    await orders.place([(model["id"], 1)], user="someone-else")
    me = orders.keys.user("buyer-v")
    first = (await orders.client.get("/me/orders", headers=me)).json()
    second = (await orders.client.get("/me/orders", params={"page": 2}, headers=me)).json()
    assert first["total"] == 22 and len(first["items"]) == 20 and len(second["items"]) == 2
    assert {o["id"] for o in first["items"] + second["items"]} == {o["id"] for o in placed}
    purchases = (await orders.client.get("/me/purchases", headers=me)).json()
    assert purchases["total"] == 3 and all(o["status"] == "paid" for o in purchases["items"])
    assert not any(line["downloadable"] for o in purchases["items"] for line in o["lines"])  # MODEL lines only
    assert (await orders.client.get("/me/orders")).status_code == 401
    assert (await orders.client.get("/me/orders", params={"page": 0}, headers=me)).status_code == 422


async def test_seller_sees_only_their_lines_of_paid_orders_owner_sees_all(orders: Orders) -> None:
    model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
    order = (await orders.place([(model["id"], 1), (file["id"], 1)], guest_email="mixed@example.com")).json()
    unpaid = (await orders.place([(model["id"], 1)], user="buyer-u")).json()
    await deliver(orders, envelope(completed(order), order["id"]))
    seller = orders.keys.user(model["seller_id"], "seller")
    page = (await orders.client.get("/seller/orders", headers=seller)).json()
    assert [o["id"] for o in page["items"]] == [order["id"]]  # only paid orders
    assert all(line["seller_id"] == model["seller_id"] for line in page["items"][0]["lines"])
    assert page["items"][0]["guest_email"] is None
    everything = (await orders.client.get("/seller/orders", headers=orders.keys.user(*OWNER))).json()
    assert everything["items"][0]["id"] == order["id"] and len(everything["items"][0]["lines"]) == 2
    assert unpaid["id"] not in {o["id"] for o in everything["items"]}
    assert (await orders.client.get("/seller/orders", headers=orders.keys.user("plain-buyer"))).status_code == 403


async def test_site_config_owner_edits_apply_to_new_orders_only(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    before = (await orders.place([(model["id"], 1)], user="buyer-s")).json()
    owner = orders.keys.user(*OWNER)
    refused = await orders.client.patch("/site-config", json={"marketplace_percent": "12.5"}, headers=orders.keys.user("x"))
    assert refused.status_code == 403
    config = (await orders.client.get("/site-config")).json()
    for bad in ({"marketplace_percent": "abc"}, {"default_currency": "dollars"}, {"allowed_countries": ["USA"]},
                {"allowed_countries": []}, {"surprise": 1}, {"marketplace_percent": None}, {"default_currency": None},
                {"allowed_countries": None}, {"allowed_countries": ["U\u0000"]}, {"marketplace_percent": "NaN"}):
        response = await orders.client.patch("/site-config", json=bad, headers=owner)
        assert response.status_code == 422, (bad, response.text)
    assert (await orders.client.get("/site-config")).json() == config  # S1: a refused edit changes nothing
    changed = await orders.client.patch("/site-config", headers=owner, json={
        "marketplace_percent": "12.5", "default_currency": "USD", "allowed_countries": ["us", "ca", "US"]})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert Decimal(body["marketplace_percent"]) == Decimal("12.50") and body["default_currency"] == "usd"
    assert body["allowed_countries"] == ["US", "CA"] and body["updated_by"] == "boss"
    clamped = (await orders.client.patch("/site-config", json={"marketplace_percent": "150"}, headers=owner)).json()
    assert Decimal(clamped["marketplace_percent"]) == Decimal(100)  # S1: clamped to 0-100
    await orders.client.patch("/site-config", json={"marketplace_percent": "12.5"}, headers=owner)
    after = (await orders.place([(model["id"], 1)], user="buyer-s")).json()
    assert Decimal(after["marketplace_percent"]) == Decimal("12.50")
    line = after["lines"][0]
    assert line["fee_cents"] == int((Decimal(line["gross_cents"]) * Decimal("0.125")).quantize(Decimal(1), "ROUND_HALF_UP"))
    again = (await orders.client.get(f"/orders/{before['id']}", headers=orders.keys.user("buyer-s"))).json()
    assert Decimal(again["marketplace_percent"]) == Decimal("10.00")  # the order keeps its percent
    assert await orders.count(SiteConfig) == 1


async def test_s1_two_first_reads_of_the_site_configuration_both_get_the_row(orders: Orders) -> None:
    """S1: the row is created by its first read; a second first read that lost the race to create it gets
    the winner's row, not a unique-key error (a 500 of concurrent first ``GET /site-config``)."""
    async with orders.runtime.sessionmaker() as first, orders.runtime.sessionmaker() as second:
        await siteconfig.load(first)  # inserted, not committed: the second's read still finds no row
        loser = asyncio.create_task(siteconfig.load(second))
        await asyncio.sleep(0.5)  # the second reads nothing and waits to insert (if it is slower, this proves less)
        await first.commit()
        config = await loser
        assert config.marketplace_percent == Decimal("10.00")
        await second.commit()
    assert await orders.count(SiteConfig) == 1


async def test_reconciliation_flags_and_filters(orders: Orders) -> None:
    model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
    guest = (await orders.place([(file["id"], 1)], guest_email="r@example.com")).json()
    user = (await orders.place([(model["id"], 1)], user="buyer-z")).json()
    await deliver(orders, envelope(completed(user, pi="pi_z"), user["id"]))
    owner = orders.keys.user(*OWNER)

    async def ids(**params: object) -> set[str]:
        response = await orders.client.get("/ops/orders", params=params, headers=owner)
        assert response.status_code == 200, response.text
        return {row["id"] for row in response.json()["items"]}

    assert await ids() == {guest["id"], user["id"]}
    assert await ids(paid="true") == {user["id"]}
    assert await ids(buyer_type="guest") == {guest["id"]}
    assert await ids(mix="digital_only") == {guest["id"]}
    assert await ids(mix="shipping") == {user["id"]}
    assert await ids(flag="no_transfer") == {user["id"]}  # paid, no transfer or skip yet (A1)
    assert await ids(payout_state="pending") == {user["id"]}
    assert await ids(flag="ledger_mismatch") == set()
    assert (await orders.client.get("/ops/orders", params={"flag": "bogus"}, headers=owner)).status_code == 422
    assert (await orders.client.get("/ops/orders", headers=orders.keys.user("buyer-z"))).status_code == 403


async def test_internal_order_needs_a_service_identity(orders: Orders) -> None:
    from homecraft_shared.identity import ServiceSigner

    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-i")).json()
    as_orders = ServiceSigner("orders", orders.keys.orders_private).authorization()
    response = await orders.client.get(f"/internal/orders/{order['id']}", headers=as_orders)
    assert response.status_code == 200 and response.json()["shipping_countries"] == ["US"]
    assert (await orders.client.get(f"/internal/orders/{order['id']}", headers=orders.keys.user("buyer-i"))).status_code == 403
