"""The product page composed from a real HTTP catalog (a stand-in app on a real port) with engagement
down: it renders with notices, not a 500 (composition); user text is escaped; C10 gating on add."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException

from gateway.accounts.service import create_user
from gateway.app import create_app
from gateway.settings import GatewaySettings
from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing import serve_app, serve_on_port
from homecraft_shared.testing.infra import free_port

READY, NOT_READY = str(uuid.uuid4()), str(uuid.uuid4())


def product(pid: str, can_buy: bool) -> dict[str, Any]:
    category = {"id": 1, "name": "Lamps", "slug": "lamps", "type": "MODEL"}
    return {
        "id": pid, "title": "<script>alert('t')</script> Lamp", "slug": "lamp", "kind": "MODEL",
        "seller_id": "seller-ada" if can_buy else "seller-linus", "price_cents": 2500, "currency": "usd",
        "is_free": False, "created_at": "2026-11-30T10:00:00Z", "short_description": "A lamp.",
        "description": "<img src=x onerror=alert(1)>", "is_featured": False, "category": category,
        "parent_category": None, "images": [], "rating": {"avg": 4.5, "count": 2},
        "seller_rating": {"avg": None, "count": 0}, "license_text": None,
        "physical_specs": {"material": "PLA", "color": "white", "width_mm": 100, "height_mm": 120, "depth_mm": 100},
        "assets": [], "trending_badge": False, "can_buy": can_buy, "published_at": None, "more_like_this": [],
    }


CALLS: Counter[str] = Counter()
TREES = {"trees": [{"type": "MODEL", "label": "3D Models", "categories": [
    {"id": 1, "type": "MODEL", "name": "Lamps", "slug": "lamps", "parent_id": None, "description": "",
     "is_active": True, "sort_order": 0, "children": []}]}]}


def fake_catalog() -> FastAPI:
    """The catalog's public and internal answers for two products, counting the calls it gets."""
    app = FastAPI()

    @app.get("/browse/products/{pid}")
    async def detail(pid: str) -> dict[str, Any]:
        CALLS["detail"] += 1
        if pid not in (READY, NOT_READY):
            raise HTTPException(404)
        return product(pid, pid == READY)

    @app.post("/internal/products/lookup")
    async def lookup(body: dict[str, list[str]]) -> dict[str, Any]:
        CALLS["lookup"] += 1
        known = [pid for pid in body["product_ids"] if pid in (READY, NOT_READY)]
        facts = [{**{k: product(pid, pid == READY)[k] for k in ("kind", "title", "slug", "seller_id", "price_cents",
                                                              "currency", "is_free", "can_buy")},
                  "product_id": pid, "category_id": 1, "status": "PUBLISHED", "is_active": True, "visible": True,
                  "seller_payout_ready": pid == READY, "seller_is_owner": False, "purchasable": pid == READY,
                  "requires_shipping": True, "is_digital": False} for pid in known]
        return {"products": facts, "unknown_ids": [pid for pid in body["product_ids"] if pid not in known]}

    @app.get("/categories")
    async def categories() -> dict[str, Any]:
        CALLS["categories"] += 1
        return TREES

    return app


@pytest.fixture
async def catalog_url() -> AsyncIterator[str]:
    async with serve_on_port(fake_catalog()) as url:
        yield url


async def test_product_page_renders_with_notices_when_engagement_is_down(
        database_url: str, nats_url: str, catalog_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    app = create_app(GatewaySettings(database_url=database_url, nats_url=nats_url, catalog_url=catalog_url,
                                     engagement_url=closed, orders_url=closed,
                                     service_private_key=generate_keypair()[0]))
    async with serve_app(app) as client:
        engine = create_engine(database_url)
        async with create_sessionmaker(engine)() as db:  # the seller's account: its shop name is its label (I2)
            await create_user(db, username="ada", email="", password="long enough 1", seller=True,
                              shop_name="Ada Lamp Works", user_id="seller-ada")
            await db.commit()
        await engine.dispose()
        CALLS.clear()
        page = await client.get(f"/products/{READY}")
        assert page.status_code == 200
        assert 'id="seller-name">Ada Lamp Works<' in page.text and "seller-ada<" not in page.text
        # The header's category links, from the catalog's tree, cached: a second page asks no more.
        assert 'href="/categories/1">Lamps</a>' in page.text
        again = await client.get(f"/products/{READY}")
        assert CALLS["categories"] == 1
        # A page with a "not available" notice is not kept for other visitors (decision 0702).
        assert "x-page-cache" not in again.headers and "Reviews are not available right now" in again.text
        assert "Reviews are not available right now" in page.text
        assert "Questions and answers are not available right now" in page.text
        assert 'id="add-to-cart"' in page.text
        # Every user-supplied text is escaped.
        assert "<script>alert('t')</script>" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text and "&lt;img src=x" in page.text
        # C10: not ready → no Buy, and a forged add is refused server-side.
        blocked = await client.get(f"/products/{NOT_READY}")
        assert 'id="not-ready"' in blocked.text and 'id="add-to-cart"' not in blocked.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        await client.post("/cart/add", data={"csrf_token": token.group(1), "product_id": NOT_READY, "quantity": "1"})
        await client.post("/cart/add", data={"csrf_token": token.group(1), "product_id": READY, "quantity": "2"})
        CALLS.clear()
        cart = await client.get("/cart")
        assert re.search(r'id="cart-count"[^>]*>1<', cart.text)  # K1: only the buyable line
        assert f'data-product-id="{READY}"' in cart.text and NOT_READY not in cart.text
        assert "by Ada Lamp Works" in cart.text
        # Composition: the cart's lines come from ONE catalog call, never one per line.
        assert dict(CALLS) == {"lookup": 1}
        missing = await client.get(f"/products/{uuid.uuid4()}")
        assert missing.status_code == 404
