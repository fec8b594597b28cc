"""End to end over a real nats-server, with the real catalog service beside engagement (each with
its own database): catalog's demo products reach engagement as product.published; orders'
``order.paid`` (published to the orders stream as orders would) makes the buyer able to review
(V1); the review's ``review.posted`` goes out through the outbox relay; catalog's consumer projects
it and the product's card shows the new rating. The purchase and the review also move the product's
trending score, which catalog receives as ``trending.scores_updated`` (C7)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats

from catalog.app import create_app as create_catalog
from catalog.models import Product as CatalogProduct
from catalog.seed import seed_demo
from catalog.settings import CatalogSettings
from engagement.app import create_app as create_engagement
from engagement.models import ProductFact
from engagement.settings import EngagementSettings
from homecraft_shared.db import utcnow
from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1
from homecraft_shared.messaging.contracts import CONTRACTS
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import ensure_stream
from homecraft_shared.testing import bearer, serve_app


async def until(predicate: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


def order_paid(order_id: str, buyer_id: str, line_id: str, product: dict[str, Any]) -> EventEnvelope:
    price = product["price_cents"] or 100
    data = OrderPaidV1(
        order_id=order_id, buyer_id=buyer_id, guest_email=None, currency="usd", subtotal_cents=price, tax_cents=0,
        shipping_cents=0, total_cents=price, marketplace_percent="10.00", kind="digital", payment_method="stripe",
        checkout_session_id="cs_e2e", payment_intent_id="pi_e2e", charge_id="ch_e2e", placed_at=utcnow(),
        paid_at=utcnow(),
        lines=[OrderLineSnapshot(line_id=line_id, product_id=product["id"], seller_id=product["seller_id"],
                                 title=product["title"], kind="FILE", is_digital=True, requires_shipping=False,
                                 quantity=1, unit_price_cents=price, gross_cents=price, fee_cents=price // 10,
                                 net_cents=price - price // 10)])
    contract = CONTRACTS.for_model(OrderPaidV1)
    return EventEnvelope(id=uuid.uuid4(), type=contract.type, version=contract.version, source="orders",
                         occurred_at=utcnow(), correlation_id="e2e-review", subject_id=order_id,
                         data=data.model_dump(mode="json"))


async def test_order_paid_then_review_then_catalog_card_shows_the_rating(
    database_url: str, nats_url: str, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    catalog_app = create_catalog(CatalogSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}", nats_url=nats_url,
        identity_public_key=identity_keys[1], media_root=tmp_path / "media", read_cache_seconds=0))
    engagement_app = create_engagement(EngagementSettings(
        database_url=database_url, nats_url=nats_url, identity_public_key=identity_keys[1],
        trending_interval_seconds=0.3, ingest_flush_seconds=0.1))
    buyer, order_id, line_id = "e2e-buyer", f"order-{uuid.uuid4()}", f"line-{uuid.uuid4()}"
    as_buyer = bearer(identity_keys[0], buyer, username="Ada")
    async with serve_app(catalog_app) as catalog, serve_app(engagement_app) as engagement:
        async with catalog_app.state.runtime.sessionmaker() as session:
            await seed_demo(session, tmp_path / "media")
            await session.commit()
        # Catalog's lists come from its search projection, which follows the database within ~0.2 s.
        cards: list[dict[str, Any]] = []

        async def listed() -> bool:
            cards[:] = (await catalog.get("/browse", params={"page_size": 60})).json()["items"]
            return any(card["rating_count"] == 0 and card["kind"] == "FILE" for card in cards)
        await until(listed)
        product = next(card for card in cards if card["rating_count"] == 0 and card["kind"] == "FILE")

        # catalog -> engagement: the product is known (product.published over NATS).
        async def known() -> bool:
            async with engagement_app.state.runtime.sessionmaker() as session:
                return await session.get(ProductFact, product["id"]) is not None
        await until(known)

        # orders -> engagement: order.paid on the orders stream, as the orders service publishes it.
        connection = await nats.connect(nats_url)
        try:
            js = connection.jetstream()
            await ensure_stream(js, "orders")
            event = order_paid(order_id, buyer, line_id, product)
            await js.publish(event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.id)})
        finally:
            await connection.close()

        async def reviewable() -> bool:
            body = (await engagement.get("/me/reviewable", headers=as_buyer)).json()
            return [line["line_id"] for line in body["lines"]] == [line_id]
        await until(reviewable)

        posted = await engagement.post("/reviews", json={"line_id": line_id, "rating": 4, "title": "Great"},
                                       headers=as_buyer)
        assert posted.status_code == 201, posted.text

        # engagement -> catalog: review.posted through the relay; the card shows the rating.
        async def card_rated() -> bool:
            items = (await catalog.get("/browse", params={"page_size": 60})).json()["items"]
            card = next(item for item in items if item["id"] == product["id"])
            return card["rating_count"] == 1 and card["rating_avg"] == 4.0
        await until(card_rated)

        # ... and trending.scores_updated: 6·1 purchase + 2·1 review + 1·4.0 average = 12.0.
        async def scored() -> bool:
            async with catalog_app.state.runtime.sessionmaker() as session:
                row = await session.get(CatalogProduct, uuid.UUID(product["id"]))
                return row is not None and row.trending_score == 12.0
        await until(scored)
