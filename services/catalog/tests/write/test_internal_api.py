"""The internal API for orders — product lookup (current price, seller, kind, visibility, C10 can_buy)
and digital files for entitled downloads — and the C10 can_buy helper the read side uses."""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import event, select
from support import CatalogHarness, binary_stl, three_mf

from catalog.buyability import can_buy_clause, payout_ready_sellers, product_can_buy, seller_payout_ready
from catalog.models import Product
from homecraft_shared import db
from homecraft_shared.db import is_sqlite

OWNER_ID = "owner-1"


async def lookup(catalog: CatalogHarness, ids: list[str]) -> dict:
    response = await catalog.client.post("/internal/products/lookup", json={"product_ids": ids}, headers=catalog.service())
    assert response.status_code == 200, response.text
    return response.json()


async def test_lookup_reports_current_facts_in_one_query(catalog: CatalogHarness) -> None:
    model = await catalog.publishable("MODEL", title="Vase", price_cents=2500)
    await catalog.client.post(f"/listings/{model['id']}/publish", headers=catalog.seller())
    file = await catalog.draft("FILE", title="Pack", is_free=True)
    # The search projection indexes those writes in the background (reading products): let it catch up
    # first, so only the lookup's own statements are counted.
    await catalog.search.refresh()
    statements: list[str] = []
    engine = catalog.app.state.runtime.engine.sync_engine

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "products" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        result = await lookup(catalog, [model["id"], "not-a-uuid", file["id"], str(uuid.UUID(int=7)), model["id"]])
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert result["unknown_ids"] == ["not-a-uuid", str(uuid.UUID(int=7))]
    vase, pack = result["products"]
    assert vase == {
        "product_id": model["id"], "seller_id": "seller-1", "kind": "MODEL", "title": "Vase", "slug": "vase",
        "category_id": model["category_id"], "price_cents": 2500, "currency": "usd", "is_free": False,
        "status": "published", "is_active": True, "visible": True, "seller_payout_ready": True,
        "seller_is_owner": False, "can_buy": True, "purchasable": True, "requires_shipping": True, "is_digital": False,
    }
    assert (pack["kind"], pack["price_cents"], pack["is_free"], pack["visible"], pack["purchasable"]) == ("FILE", 0, True, False, False)
    assert (pack["requires_shipping"], pack["is_digital"]) == (False, True)


async def test_lookup_runs_on_the_event_loops_thread_on_sqlite(catalog: CatalogHarness,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision 0205: the lookup, a read of at most 200 rows by primary key on every order placement, runs on
    the event loop's thread on SQLite (``INLINE_READ``: no trip to aiosqlite's thread), with the same answer."""
    if not is_sqlite(catalog.app.state.runtime.settings.database_url):
        pytest.skip("SQLite's aiosqlite thread")
    model = await catalog.publishable("MODEL", title="Bowl", price_cents=1200)
    ran: list[bool] = []
    original = db._statement

    def statement(connection: Any, operation: Any, parameters: Any, many: bool) -> Any:
        if " AS ready" in str(operation):
            ran.append(threading.current_thread() is threading.main_thread())
        return original(connection, operation, parameters, many)

    monkeypatch.setattr(db, "_statement", statement)
    result = await lookup(catalog, [model["id"]])
    assert ran == [True]
    assert [(p["product_id"], p["price_cents"]) for p in result["products"]] == [(model["id"], 1200)]


async def test_o2_lookups_read_the_current_price_on_a_kept_connection(catalog: CatalogHarness) -> None:
    """Decision 0206: the lookup reads on one connection kept for the process (SQLite; no pool checkout per
    call), yet every call reads the database: a price changed between two lookups is answered at once (O2,
    nothing cached), for one id and for several (each count its own statement)."""
    model = await catalog.publishable("MODEL", title="Jug", price_cents=1000)
    other = await catalog.publishable("MODEL", title="Cup", price_cents=300)
    await catalog.search.refresh()  # the projection's own reads are not the lookup's
    await lookup(catalog, [model["id"]])  # the kept connection is taken on the first lookup
    checkouts: list[int] = []
    engine = catalog.app.state.runtime.engine.sync_engine

    def checkout(*_: Any) -> None:
        checkouts.append(1)

    event.listen(engine, "checkout", checkout)
    try:
        seen = []
        for price in (1100, 1200, 1300):
            changed = await catalog.client.patch(f"/listings/{model['id']}", json={"price_cents": price},
                                                 headers=catalog.seller())
            assert changed.status_code == 200, changed.text
            before = len(checkouts)
            one = await lookup(catalog, [model["id"]])
            both = await lookup(catalog, [other["id"], model["id"]])
            seen.append(([p["price_cents"] for p in one["products"]], [p["price_cents"] for p in both["products"]],
                         len(checkouts) - before))
    finally:
        event.remove(engine, "checkout", checkout)
    assert [(one, both) for one, both, _ in seen] == [([1100], [300, 1100]), ([1200], [300, 1200]), ([1300], [300, 1300])]
    if is_sqlite(catalog.app.state.runtime.settings.database_url):
        # No checkout at all on SQLite. On PostgreSQL each lookup checks out a pooled connection, and so may
        # the outbox relay publishing the price change at the same moment, so a count proves nothing there.
        assert [count for _, _, count in seen] == [0, 0, 0]


async def test_c10_lookup_follows_payout_readiness_and_owner_sellers(catalog: CatalogHarness) -> None:
    listing = await catalog.publishable("MODEL")
    await catalog.client.post(f"/listings/{listing['id']}/publish", headers=catalog.seller())
    owners = await catalog.client.post(
        "/listings", json={"kind": "MODEL", "title": "House", "category_id": listing["category_id"],
                "price_cents": 100}, headers=catalog.owner()
    )
    await catalog.make_ready("seller-1", ready=False)
    result = await lookup(catalog, [listing["id"], owners.json()["id"]])
    sellers, house = result["products"]
    assert (sellers["seller_payout_ready"], sellers["can_buy"], sellers["purchasable"], sellers["visible"]) == (False, False, False, True)
    assert (house["seller_payout_ready"], house["seller_is_owner"], house["can_buy"]) == (False, True, True)


async def test_c10_can_buy_clause_and_helpers_match_the_rule(catalog: CatalogHarness) -> None:
    ready = await catalog.draft("FILE", title="Ready")
    owners = (await catalog.client.post(
        "/listings", json={"kind": "FILE", "title": "Owned", "category_id": ready["category_id"], "price_cents": 1}, headers=catalog.owner()
    )).json()
    await catalog.make_ready("seller-2")
    unready = await catalog.draft("FILE", title="Later", seller="seller-2")
    await catalog.make_ready("seller-2", ready=False)
    async with catalog.session() as session:
        rows = (await session.execute(select(Product, can_buy_clause().label("can_buy")))).all()
        by_title = {product.title: flag for product, flag in rows}
        assert by_title == {"Ready": True, "Owned": True, "Later": False}
        buyable = await session.scalars(select(Product).where(can_buy_clause()).order_by(Product.title))
        assert [p.title for p in buyable.all()] == ["Owned", "Ready"]
        assert await seller_payout_ready(session, "seller-1") and not await seller_payout_ready(session, "seller-2")
        assert not await seller_payout_ready(session, "nobody")
        ready_set = await payout_ready_sellers(session, ["seller-1", "seller-2", OWNER_ID])
        assert ready_set == {"seller-1"}
        products = {p.title: p for p, _ in rows}
        assert [product_can_buy(products[t], ready_set) for t in ("Ready", "Owned", "Later")] == [True, True, False]
    assert {ready["id"], owners["id"], unready["id"]} == {str(p.id) for p in products.values()}



async def test_lookup_validates_its_body(catalog: CatalogHarness) -> None:
    for body in ({"product_ids": []}, {"product_ids": ["x"] * 201}, {}, {"product_ids": ["x" * 65]}):
        response = await catalog.client.post("/internal/products/lookup", json=body, headers=catalog.service())
        assert response.status_code == 422, body


async def test_asset_content_for_services_and_owners_only(catalog: CatalogHarness) -> None:
    listing = await catalog.draft("FILE")
    content = three_mf()
    asset = (await catalog.upload_asset(listing["id"], content, name="Dragon Bust.3mf")).json()
    await catalog.upload_asset(listing["id"], binary_stl(), name="base.stl")
    url = f"/internal/assets/{asset['id']}/content"

    assert (await catalog.client.get(url)).status_code == 401
    assert (await catalog.client.get(url, headers=catalog.seller())).status_code == 403
    assert (await catalog.client.get(url, headers=catalog.consumer())).status_code == 403
    for headers in (catalog.service(), catalog.owner()):
        response = await catalog.client.get(url, headers=headers)
        assert response.status_code == 200
        assert response.content == content
        assert response.headers["content-type"] == "model/3mf"
        assert response.headers["content-disposition"] == "attachment; filename*=utf-8''Dragon%20Bust.3mf"
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()
    assert (await catalog.client.get(f"/internal/assets/{uuid.uuid4()}/content", headers=catalog.service())).status_code == 404

    listed = await catalog.client.get(f"/internal/products/{listing['id']}/assets", headers=catalog.service())
    assert listed.status_code == 200
    assert [a["original_filename"] for a in listed.json()["assets"]] == ["Dragon Bust.3mf", "base.stl"]
    assert listed.json()["kind"] == "FILE"
    assert (await catalog.client.get(f"/internal/products/{listing['id']}/assets", headers=catalog.seller())).status_code == 403
    assert (await catalog.client.get(f"/internal/products/{uuid.uuid4()}/assets", headers=catalog.service())).status_code == 404
