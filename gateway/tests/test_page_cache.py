"""The anonymous full-page cache and the refreshing read cache (decision 0702), against the real gateway
app, a real database and a catalog/engagement stand-in app on a real port that counts its calls.

- a kept page is served before the framework to visitors without a session, and to signed-out
  visitors, each with its OWN CSRF token (a token is never another session's) and cart count;
- a signed-in user is served it filled for them (their header, their token), never the anonymous
  copy, and nothing of theirs is kept (decision 0703; more in ``test_signed_in_pages.py``);
- a visitor with a message waiting is never served a kept page;
- a view served from the page cache is still recorded (E1);
- a product change shows after the written bound, under steady traffic too;
- concurrent first views of a product make ONE catalog call (single-flight).
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from gateway.accounts.service import create_user
from gateway.app import create_app
from gateway.pagecache import PageCache
from gateway.settings import GatewaySettings
from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing import serve_app, serve_on_port

READY, NOT_READY = str(uuid.uuid4()), str(uuid.uuid4())
CALLS: Counter[str] = Counter()
EVENTS: list[dict[str, str]] = []
TITLES: dict[str, str] = {}
DELAY = {"detail": 0.0}
EXPECTED = {"events": 0}
ARRIVED = asyncio.Event()


def product(pid: str) -> dict[str, Any]:
    category = {"id": 1, "name": "Lamps", "slug": "lamps", "type": "MODEL"}
    return {
        "id": pid, "title": TITLES.get(pid, "Moon lamp"), "slug": "lamp", "kind": "MODEL", "seller_id": "seller-ada",
        "price_cents": 2500, "currency": "usd", "is_free": False, "created_at": "2026-11-30T10:00:00Z",
        "short_description": "A lamp.", "description": "A lamp.", "is_featured": False, "category": category,
        "parent_category": None, "images": [], "rating": {"avg": None, "count": 0},
        "seller_rating": {"avg": None, "count": 0}, "license_text": None, "physical_specs": None, "assets": [],
        "trending_badge": False, "can_buy": pid == READY, "published_at": None, "more_like_this": [],
    }


def fake_services() -> FastAPI:
    """The catalog's and engagement's answers the product and home pages need, counting calls."""
    app = FastAPI()

    @app.get("/browse/products/{pid}")
    async def detail(pid: str) -> dict[str, Any]:
        CALLS["detail"] += 1
        await asyncio.sleep(DELAY["detail"])
        if pid not in (READY, NOT_READY):
            raise HTTPException(404)
        return product(pid)

    @app.get("/home")
    async def home() -> dict[str, Any]:
        CALLS["home"] += 1
        return {"featured": [], "trending": [], "new": []}

    @app.get("/categories")
    async def categories() -> dict[str, Any]:
        return {"trees": []}

    @app.get("/products/{pid}/reviews")
    async def reviews(pid: str) -> dict[str, Any]:
        return {"reviews": []}

    @app.get("/products/{pid}/threads")
    async def threads(pid: str) -> dict[str, Any]:
        return {"threads": []}

    @app.post("/internal/engagement-events", status_code=202)
    async def events(body: dict[str, list[dict[str, str]]]) -> dict[str, int]:
        EVENTS.extend(body["events"])
        if len(EVENTS) >= EXPECTED["events"]:
            ARRIVED.set()
        return {"accepted": len(body["events"])}

    return app


@pytest.fixture
async def services_url() -> AsyncIterator[str]:
    CALLS.clear()
    EVENTS.clear()
    TITLES.clear()
    DELAY["detail"] = 0.0
    EXPECTED["events"] = 0
    ARRIVED.clear()
    async with serve_on_port(fake_services()) as url:
        yield url


def gateway(database_url: str, nats_url: str, services_url: str, **settings: Any) -> FastAPI:
    return create_app(GatewaySettings(database_url=database_url, nats_url=nats_url, catalog_url=services_url,
                                      engagement_url=services_url, orders_url=services_url,
                                      identity_private_key=generate_keypair()[0],
                                      service_private_key=generate_keypair()[0], **settings))


def token_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form"
    return found.group(1)


async def test_kept_pages_carry_each_visitors_own_token_count_and_header(
        database_url: str, nats_url: str, services_url: str) -> None:
    app = gateway(database_url, nats_url, services_url, page_cache_seconds=60, read_cache_seconds=60)
    async with serve_app(app) as first:
        transport = httpx.ASGITransport(app=app)  # a second browser on the same app
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as second:
            # Home without a session: kept, then served before the framework, public for a CDN too.
            assert "x-page-cache" not in (await first.get("/")).headers
            home = await second.get("/")
            assert home.status_code == 200 and home.headers["x-page-cache"] == "hit"
            assert home.headers["cache-control"] == "public, max-age=60" and home.headers["vary"] == "Cookie"
            assert CALLS["home"] == 1

            # A product page with a form: the first view makes the visitor's session (not a hit) ...
            one = await first.get(f"/products/{READY}")
            assert "x-page-cache" not in one.headers and "hc_session" in one.cookies
            two = await second.get(f"/products/{READY}")
            assert "x-page-cache" not in two.headers  # no session yet: never from the cache
            # ... then each visitor is served the kept page with its OWN session's token.
            one_again, two_again = await first.get(f"/products/{READY}"), await second.get(f"/products/{READY}")
            assert one_again.headers["x-page-cache"] == "hit" and two_again.headers["x-page-cache"] == "hit"
            assert one_again.headers["cache-control"] == "no-store"
            assert CALLS["detail"] == 1
            assert "csrf-placeholder" not in one_again.text
            token_one, token_two = token_of(one_again), token_of(two_again)
            assert token_one != token_two
            # The second visitor's session refuses the first's token (it is not theirs) ...
            refused = await second.post("/cart/add", data={"csrf_token": token_one, "product_id": READY})
            assert refused.status_code == 403
            # ... and the first's accepts it: the served token is the session's own.
            added = await first.post("/cart/add", data={"csrf_token": token_one, "product_id": READY})
            assert added.status_code == 303 and added.headers["location"] == "/cart"

            # A message waiting is shown (and taken) by the page's own path, never from the cache ...
            with_message = await first.get(f"/products/{READY}")
            assert "x-page-cache" not in with_message.headers and "Added" in with_message.text
            # ... then a visitor with a cart is served the kept page filled with THEIR cart's count (K1).
            with_cart = await first.get(f"/products/{READY}")
            assert with_cart.headers["x-page-cache"] == "hit" and with_cart.headers["cache-control"] == "no-store"
            assert re.search(r'id="cart-count"[^>]*>1<', with_cart.text) and token_of(with_cart) == token_one
            assert re.search(r'id="cart-count"[^>]*>0<', (await second.get(f"/products/{READY}")).text)

            # A signed-in user (decision 0703) is served kept storefront pages filled for them: their own
            # header and token, never the anonymous copy; home is their dashboard, never a kept page (C6).
            engine = create_engine(database_url)
            async with create_sessionmaker(engine)() as db:
                await create_user(db, username="grace", email="", password="long enough 1")
                await db.commit()
            await engine.dispose()
            form = await second.get("/account/signin")
            signed = await second.post("/account/signin", data={"csrf_token": token_of(form), "username": "grace",
                                                                 "password": "long enough 1", "next": "/"})
            assert signed.status_code == 303
            welcome = await second.get("/")  # the message waiting, on the dashboard
            assert "x-page-cache" not in welcome.headers and "Hello, grace" in welcome.text
            built = await second.get(f"/products/{NOT_READY}")  # not kept yet: built (and kept) for her
            assert "x-page-cache" not in built.headers and 'id="signed-in-as">grace<' in built.text
            for path in (f"/products/{READY}", f"/products/{NOT_READY}"):
                page = await second.get(path)
                assert page.headers["x-page-cache"] == "hit", path
                assert 'id="signed-in-as">grace<' in page.text and page.headers["cache-control"] == "no-store"
                assert "/account/signin" not in page.text and "csrf-placeholder" not in page.text
            home_again = await second.get("/")
            assert "x-page-cache" not in home_again.headers and "Hello, grace" in home_again.text
            grace_token = token_of(await second.get(f"/products/{READY}"))
            assert grace_token not in (token_one, token_two)
            refused = await first.post("/cart/add", data={"csrf_token": grace_token, "product_id": READY})
            assert refused.status_code == 403  # grace's token is hers alone
            added = await second.post("/cart/add", data={"csrf_token": grace_token, "product_id": READY})
            assert added.status_code == 303
            # ... and nothing of theirs went into the kept pages anonymous visitors get.
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as third:
                for path in ("/", f"/products/{NOT_READY}", f"/products/{NOT_READY}"):
                    page = await third.get(path)
                    assert "grace" not in page.text and "Sign in" in page.text
                assert page.headers["x-page-cache"] == "hit"


async def test_views_served_from_the_page_cache_are_recorded(
        database_url: str, nats_url: str, services_url: str) -> None:
    """E1: a product view (and a card's click) counts the same whether the page was kept or built."""
    app = gateway(database_url, nats_url, services_url, page_cache_seconds=60, read_cache_seconds=60)
    async with serve_app(app) as client:
        await client.get(f"/products/{READY}")  # makes the session and keeps the page
        hits = [await client.get(f"/products/{READY}?via=card") for _ in range(3)]
        assert all(h.headers.get("x-page-cache") == "hit" for h in hits[1:])  # the first kept ?via=card
        assert len(app.state.runtime.resources.get(PageCache)) == 2  # with and without ?via=card
        EXPECTED["events"] = 7
        if len(EVENTS) < 7:
            await asyncio.wait_for(ARRIVED.wait(), 10)
    kinds = Counter(e["type"] for e in EVENTS if e["product_id"] == READY)
    assert kinds == {"VIEW": 4, "CLICK": 3}
    assert len({e["visitor"] for e in EVENTS}) == 1


async def test_a_product_change_shows_within_the_bound_under_steady_traffic(
        database_url: str, nats_url: str, services_url: str) -> None:
    """Decision 0702's bound: what a kept page shows is at most 2 x (fresh + stale) of the page and the
    read caches behind (plus one call); here each is 0.25 + 0.25 s, so 1 s."""
    app = gateway(database_url, nats_url, services_url, page_cache_seconds=0.25, read_cache_seconds=0.25)
    bound = 2 * (0.25 + 0.25)
    async with serve_app(app) as client:
        assert "Moon lamp" in (await client.get(f"/products/{NOT_READY}")).text
        TITLES[NOT_READY] = "Sun lamp"
        changed = time.monotonic()
        served_from_cache = 0
        while time.monotonic() - changed < bound + 0.3:  # visitors keep coming the whole time
            page = await client.get(f"/products/{NOT_READY}")
            served_from_cache += page.headers.get("x-page-cache") == "hit"
            await asyncio.sleep(0.02)
        assert served_from_cache > 0  # the cache was in use meanwhile
        for _ in range(5):
            page = await client.get(f"/products/{NOT_READY}")
            assert "Sun lamp" in page.text and "Moon lamp" not in page.text


async def test_concurrent_first_views_make_one_catalog_call(
        database_url: str, nats_url: str, services_url: str) -> None:
    app = gateway(database_url, nats_url, services_url, page_cache_seconds=60, read_cache_seconds=60)
    DELAY["detail"] = 0.3  # a slow catalog: the 16 requests overlap
    async with serve_app(app) as client:
        pages = await asyncio.gather(*(client.get(f"/products/{NOT_READY}") for _ in range(16)))
    assert all(p.status_code == 200 and "Moon lamp" in p.text for p in pages)
    assert CALLS["detail"] == 1
