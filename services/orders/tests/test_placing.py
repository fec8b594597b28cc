"""Placing orders (O1, O2, K2), idempotency, guest tokens (O1), and bad input writing nothing."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from support import CatalogProcess, Keys, Mailbox, Orders, orders_settings, running_orders

from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.money import percent_of
from homecraft_shared.testing.infra import free_port
from orders.models import Order, OrderEvent, OrderLine


async def test_registered_buyer_places_a_mixed_order_with_the_o2_snapshot(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    file = orders.catalog.pick(kind="FILE")
    response = await orders.place([(model["id"], 3), (file["id"], 2)], user="buyer-1", guest_email="ignored@example.com")
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["status"] == "pending" and order["kind"] == "mixed"
    assert order["buyer_id"] == "buyer-1" and order["guest_email"] is None  # O1: a buyer clears the guest email
    assert order["access_token"] is None
    assert Decimal(order["marketplace_percent"]) == Decimal("10.00")
    by_product = {line["product_id"]: line for line in order["lines"]}
    shipped, digital = by_product[model["id"]], by_product[file["id"]]
    assert shipped["quantity"] == 3 and shipped["requires_shipping"] and not shipped["is_digital"]
    assert shipped["unit_price_cents"] == model["price_cents"] and shipped["seller_id"] == model["seller_id"]
    assert digital["quantity"] == 1 and digital["is_digital"]  # O2: FILE forced to 1, with a notice
    assert any("set to 1" in notice for notice in order["notices"])
    for line in order["lines"]:
        assert line["gross_cents"] == line["quantity"] * line["unit_price_cents"]
        assert line["fee_cents"] == percent_of(line["gross_cents"], Decimal(10))
        assert line["net_cents"] == line["gross_cents"] - line["fee_cents"]
    assert order["subtotal_cents"] == sum(line["gross_cents"] for line in order["lines"]) == order["total_cents"]
    timeline = (await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("owner-1", "owner"))).json()["timeline"]
    assert [entry["type"] for entry in timeline] == ["created"]  # O4


async def test_placing_is_idempotent_per_request_key(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    first = await orders.place([(model["id"], 1)], user="buyer-2", key="double-click-key-1")
    again = await orders.place([(model["id"], 1)], user="buyer-2", key="double-click-key-1")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    other_buyer = await orders.place([(model["id"], 1)], user="buyer-3", key="double-click-key-1")
    assert other_buyer.status_code == 201 and other_buyer.json()["id"] != first.json()["id"]
    assert await orders.count(Order) == 2


async def test_concurrent_placements_are_committed_through_the_group_and_a_racing_double_click_fails_alone(
        orders: Orders) -> None:
    """Decision 0204: new orders' rows go through the group commit (placements of the same moment share one
    commit); the racing double click with one request key gets the order its twin placed (200) without
    failing the placements committed with it, and only one order is written for it (O1 idempotency)."""
    model = orders.catalog.pick(kind="MODEL")
    group = orders.runtime.group
    before = group.stats.committed
    responses = await asyncio.gather(
        *(orders.place([(model["id"], 1)], user=f"crowd-{n}", key=f"crowd-key-{n}") for n in range(12)),
        *(orders.place([(model["id"], 1)], user="clicker", key="same-click-key") for _ in range(2)),
    )
    assert [r.status_code for r in responses[:12]] == [201] * 12
    # Decision 0205: the loser's write meets the placement key's unique index once the winner's order is
    # committed, and answers with that order.
    assert sorted(r.status_code for r in responses[12:]) == [200, 201]
    assert responses[12].json()["id"] == responses[13].json()["id"]
    assert await orders.count(Order) == 13
    assert group.stats.committed - before == 13
    ids = {r.json()["id"] for r in responses}
    for order_id in ids:
        assert (await orders.client.get(f"/orders/{order_id}", headers=orders.keys.user("owner-1", "owner"))).status_code == 200


async def test_a_repeat_gets_its_order_back_when_its_product_was_unlisted_since_or_the_catalog_is_down(
        orders: Orders, database_url: str, nats_url: str, keys: Keys, smtp: tuple[Mailbox, int]) -> None:
    """O1 idempotency, decided by the placement key's unique index (decision 0205): a repeat still asks the
    catalog, and when the catalog now refuses the line (unlisted since, O2) or cannot be reached, the repeat
    answers 200 with the order its first request placed and writes nothing; a new request is refused."""
    listed = [p for p in orders.catalog.products if p["kind"] == "MODEL" and p["can_buy"] and not p["is_free"]]
    product = listed[-1]
    first = await orders.place([(product["id"], 2)], guest_email="again@example.com", key="repeat-after-change")
    assert first.status_code == 201, first.text
    seller = orders.keys.user("boss", "owner")
    async with httpx.AsyncClient(base_url=orders.catalog.url, timeout=10) as catalog:
        assert (await catalog.post(f"/listings/{product['id']}/unpublish", headers=seller)).status_code == 200
        try:
            again = await orders.place([(product["id"], 2)], guest_email="again@example.com", key="repeat-after-change")
            fresh = await orders.place([(product["id"], 2)], guest_email="again@example.com", key="a-new-request")
        finally:
            assert (await catalog.post(f"/listings/{product['id']}/publish", headers=seller)).status_code == 200
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["access_token"] == first.json()["access_token"]
    assert again.json()["lines"] == first.json()["lines"]
    assert fresh.status_code == 422 and "unlisted" in fresh.text

    gone = CatalogProcess(url=f"http://127.0.0.1:{free_port()}", products=orders.catalog.products)
    settings = orders_settings(database_url, nats_url, keys, gone, smtp[1], catalog_timeout_seconds=2.0)
    async with running_orders(settings, keys, gone) as cut_off:
        again = await cut_off.place([(product["id"], 2)], guest_email="again@example.com", key="repeat-after-change")
        fresh = await cut_off.place([(product["id"], 1)], guest_email="again@example.com", key="another-new-request")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert fresh.status_code == 503, fresh.text
    assert await orders.count(Order) == 1 and await orders.count(OrderEvent) == 1


async def test_a_new_placement_reads_nothing_before_its_write(
        database_url: str, nats_url: str, keys: Keys, catalog: CatalogProcess, smtp: tuple[Mailbox, int]) -> None:
    """Decision 0205: with the site configuration cached (S1), a new placement sends no statement to the
    database before its rows (no placement-key read: the unique index decides a repeat), and its rows are
    the group commit's three INSERTs (order, lines, timeline), committed before the 201 (decision 0204)."""
    settings = orders_settings(database_url, nats_url, keys, catalog, smtp[1], site_config_cache_seconds=60)
    async with running_orders(settings, keys, catalog) as orders:
        model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
        assert (await orders.place([(model["id"], 1)], user="warm-up")).status_code == 201  # fills the cache
        requests: list[str] = []
        group: list[str] = []
        group_engine = orders.runtime.group._engine

        def note(into: list[str]) -> Any:
            def before(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                # The service's background loops (relay, mail worker) poll their own tables meanwhile.
                if re.search(r"\b(orders|order_lines|order_events|site_config)\b", statement):
                    into.append(statement.split()[0].upper() + " " + statement.split()[2].strip('"'))
            return before

        event.listen(orders.runtime.engine.sync_engine, "before_cursor_execute", note(requests))
        event.listen(group_engine.sync_engine, "before_cursor_execute", note(group))
        response = await orders.place([(model["id"], 2), (file["id"], 1)], user="buyer-reads-nothing")
        assert response.status_code == 201, response.text
        assert requests == []
        assert group == ["INSERT orders", "INSERT order_lines", "INSERT order_events"]
        async with orders.runtime.sessionmaker() as session:
            stored = await session.get(Order, response.json()["id"])
            assert stored is not None and len(stored.lines) == 2 and stored.payout_state == "unpaid"


async def test_guest_order_needs_its_token_compared_exactly(orders: Orders) -> None:
    file = orders.catalog.pick(kind="FILE")
    response = await orders.place([(file["id"], 1)], guest_email="  Ada@Example.COM ")
    assert response.status_code == 201, response.text
    order = response.json()
    assert order["guest_email"] == "ada@example.com" and order["buyer_id"] is None  # O1: lower-cased
    token = order["access_token"]
    assert len(token) >= 22  # >= 128 bits, url-safe
    assert (await orders.client.get(f"/orders/{order['id']}", params={"t": token})).status_code == 200
    for wrong in (None, "", token[:-1], token + "x", token.upper()):
        params = {} if wrong is None else {"t": wrong}
        response = await orders.client.get(f"/orders/{order['id']}", params=params)
        assert response.status_code == 404, wrong
    assert (await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("someone"))).status_code == 404


async def test_another_buyers_order_is_a_404_not_a_403(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-a")).json()
    mine = await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("buyer-a"))
    theirs = await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("buyer-b"))
    missing = await orders.client.get("/orders/00000000-0000-4000-8000-000000000000", headers=orders.keys.user("buyer-b"))
    assert mine.status_code == 200
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == missing.json()["detail"]
    assert (await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("boss", "owner"))).status_code == 200


async def test_a_wrong_token_or_another_buyer_cannot_cancel_or_check_out(orders: Orders) -> None:
    """O1, O8: cancel and checkout with a wrong or missing guest token, or as another buyer, are the same
    404 as a missing order, and write nothing (no status change, timeline entry or event)."""
    model = orders.catalog.pick(kind="MODEL")
    guest = (await orders.place([(model["id"], 1)], guest_email="g-w@example.com")).json()
    mine = (await orders.place([(model["id"], 1)], user="buyer-w")).json()
    before = (await orders.count(OrderEvent), await orders.count(OutboxEvent))
    attempts = [(guest["id"], {"t": guest["access_token"][:-1]}, {}), (guest["id"], {}, {}),
                (guest["id"], {"t": ""}, orders.keys.user("buyer-w")), (mine["id"], {}, orders.keys.user("buyer-v"))]
    for order_id, params, headers in attempts:
        for action in ("cancel", "checkout"):
            response = await orders.client.post(f"/orders/{order_id}/{action}", params=params, headers=headers)
            assert response.status_code == 404, (action, params, response.text)
    assert (await orders.count(OrderEvent), await orders.count(OutboxEvent)) == before
    still = await orders.client.get(f"/orders/{guest['id']}", params={"t": guest["access_token"]})
    assert still.json()["status"] == "pending"


BAD_QUANTITIES = [0, -1, 1.5, "2", 10**9, True, None]


@pytest.mark.parametrize("quantity", BAD_QUANTITIES, ids=repr)
async def test_bad_quantity_is_refused_and_writes_nothing(orders: Orders, quantity: object) -> None:
    model = orders.catalog.pick(kind="MODEL")
    response = await orders.client.post("/orders", json={"lines": [{"product_id": model["id"], "quantity": quantity}]},
                                        headers={"Idempotency-Key": "bad-quantity", **orders.keys.user("buyer-q")})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "quantity" in response.json()["detail"]
    assert await orders.count(Order) == await orders.count(OrderLine) == await orders.count(OutboxEvent) == 0


@pytest.mark.parametrize(("body", "guest", "needle"), [
    ({"lines": []}, False, "lines"),
    ({"lines": [{"product_id": "00000000-0000-4000-8000-000000000000", "quantity": 1}]}, False, "does not exist"),
    ({"lines": [{"product_id": "../../etc", "quantity": 1}]}, False, "product_id"),
    ({"lines": "MODEL:1"}, False, "lines"),
    ("FIRST_MODEL", True, "guest_email"),  # a guest without an email (O1)
    ("FIRST_MODEL_BAD_EMAIL", True, "email"),
    ("UNREADY", False, "payout onboarding"),  # K2
    ("DUPLICATE", False, "appears twice"),
    ({"lines": [{"product_id": "abc\u0000", "quantity": 1}]}, False, "product_id"),  # platform Line: no control chars
    ("FIRST_MODEL_CONTROL_EMAIL", True, "guest_email"),
    ({"lines": [{"product_id": "x", "quantity": 1, "price_cents": 1}]}, False, "price_cents"),  # never priced by the caller (O2)
], ids=["no-lines", "unknown-product", "malformed-id", "lines-not-a-list", "guest-without-email", "bad-email",
        "unready-seller", "duplicate-line", "control-char-id", "control-char-email", "caller-price"])
async def test_bad_orders_get_a_clear_4xx_and_write_nothing(orders: Orders, body: object, guest: bool, needle: str) -> None:
    model = orders.catalog.pick(kind="MODEL")
    if body == "FIRST_MODEL":
        body = {"lines": [{"product_id": model["id"], "quantity": 1}]}
    elif body == "FIRST_MODEL_BAD_EMAIL":
        body = {"lines": [{"product_id": model["id"], "quantity": 1}], "guest_email": "not-an-email@"}
    elif body == "FIRST_MODEL_CONTROL_EMAIL":
        body = {"lines": [{"product_id": model["id"], "quantity": 1}], "guest_email": "a\u0007b@example.com"}
    elif body == "UNREADY":
        body = {"lines": [{"product_id": orders.catalog.pick(kind="MODEL", ready=False)["id"], "quantity": 1}]}
    elif body == "DUPLICATE":
        body = {"lines": [{"product_id": model["id"], "quantity": 1}, {"product_id": model["id"], "quantity": 2}]}
    headers = {"Idempotency-Key": "bad-order-key"}
    if not guest:
        headers.update(orders.keys.user("buyer-x"))
    response = await orders.client.post("/orders", json=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert needle in response.text
    assert await orders.count(Order) == await orders.count(OrderLine) == await orders.count(OrderEvent) == 0
    assert await orders.count(OutboxEvent) == 0


async def test_an_unlisted_product_is_refused_and_nothing_is_written(orders: Orders) -> None:
    """O2: visibility comes from the catalog at this moment; a listing taken down cannot be ordered."""
    listed = [p for p in orders.catalog.products if p["kind"] == "MODEL" and p["can_buy"] and not p["is_free"]]
    product = listed[-1]  # not the one the other tests pick
    seller = orders.keys.user("boss", "owner")  # owners may take any listing down (and put it back)
    async with httpx.AsyncClient(base_url=orders.catalog.url, timeout=10) as catalog:
        down = await catalog.post(f"/listings/{product['id']}/unpublish", headers=seller)
        assert down.status_code == 200, down.text
        try:
            response = await orders.place([(product["id"], 1)], user="buyer-unlisted")
        finally:
            up = await catalog.post(f"/listings/{product['id']}/publish", headers=seller)
            assert up.status_code == 200, up.text
    assert response.status_code == 422, response.text
    assert "not for sale (unlisted)" in response.json()["detail"]
    assert await orders.count(Order) == await orders.count(OrderLine) == await orders.count(OutboxEvent) == 0


@pytest.mark.parametrize(("path", "params"), [
    ("/me/orders", {"page_size": 21}),  # O8: 20 a page
    ("/me/orders", {"page": 10_001}),
    ("/ops/orders", {"page_size": 201}),  # A1
    ("/ops/orders", {"page": 0}),
], ids=["views-page-size", "views-page", "recon-page-size", "recon-page-zero"])
async def test_paging_is_bounded_by_the_platform_limits(orders: Orders, path: str, params: dict[str, int]) -> None:
    response = await orders.client.get(path, params=params, headers=orders.keys.user("boss", "owner"))
    assert response.status_code == 422, response.text
    assert next(iter(params)) in response.text


async def test_an_owner_buyer_bypasses_the_payout_readiness_gate(orders: Orders) -> None:
    unready = orders.catalog.pick(kind="MODEL", ready=False)
    response = await orders.place([(unready["id"], 1)], user="owner-2", roles=("owner",))
    assert response.status_code == 201, response.text


async def test_missing_request_key_is_refused(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    response = await orders.client.post("/orders", json={"lines": [{"product_id": model["id"], "quantity": 1}]},
                                        headers=orders.keys.user("buyer-k"))
    assert response.status_code == 422 and "Idempotency-Key" in response.text
    assert await orders.count(Order) == 0


async def test_malformed_ids_are_422_before_the_database(orders: Orders) -> None:
    for path in ("/orders/%00", "/orders/not-a-uuid/cancel", "/orders/" + "a" * 300, "/ops/orders/x%00y/payouts"):
        response = await orders.client.request("POST" if path.endswith("cancel") else "GET", path,
                                               headers=orders.keys.user("boss", "owner"))
        assert response.status_code == 422, (path, response.text)
