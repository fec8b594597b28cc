"""Helpers for the engagement tests: a running service (real database, real NATS), identity tokens,
catalog and orders facts delivered through the real handlers, and direct reads for assertions."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from engagement.app import create_app
from engagement.ingestion.buffer import IngestionBuffer
from engagement.settings import EngagementSettings
from engagement.trending import service as trending
from homecraft_shared.db import utcnow
from homecraft_shared.events.catalog import ProductPublishedV1, ProductUnlistedV1
from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1, OrderRefundedV1
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing import bearer
from homecraft_shared.testing.harness import ServiceHarness, running_service

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Engagement(ServiceHarness):
    """The shared harness (tokens, sessions, counts, events through the real consumer path) plus
    engagement's own shortcuts."""

    last_paid: OrderPaidV1 | None = None

    # --- identities ---
    def user(self, user_id: str, *roles: str) -> dict[str, str]:
        return bearer(self.private_pem, user_id, *roles, username=f"name-{user_id}")

    def service(self, name: str = "gateway") -> dict[str, str]:
        return super().service(name)

    def staff(self, user_id: str = "staff-1") -> dict[str, str]:
        return self.as_user(user_id, "staff")

    # --- the running service ---
    @property
    def buffer(self) -> IngestionBuffer:
        return self.runtime.resources.get(IngestionBuffer)

    async def counts(self, *models: type[Any]) -> dict[str, int]:
        """Rows per table and in the outbox, for "nothing was written" assertions."""
        return await super().counts(*models, OutboxEvent)

    async def refresh_trending(self, now: dt.datetime | None = None) -> int:
        async with self.session() as session:
            return await trending.refresh(session, now or utcnow(), max_per_event=1000)

    async def published(self, event_type: str) -> list[dict[str, Any]]:
        """The data of every outbox event of a type, oldest first."""
        payloads = [json.loads(row.payload) for row in await self.outbox()]
        return [p["data"] for p in payloads if p["type"] == event_type]

    async def publish_product(self, product_id: str | None = None, *, seller_id: str = "seller-1",
                              at: dt.datetime | None = None, kind: str = "FILE") -> str:
        product_id = product_id or str(uuid.uuid4())
        await self.deliver(ProductPublishedV1(
            product_id=product_id, seller_id=seller_id, kind=kind, category_id="7", title=f"Product {product_id[:8]}",
            slug=f"p-{product_id[:8]}", price_cents=1500, is_free=False, published_at=at or utcnow()))
        return product_id

    async def unlist_product(self, product_id: str, *, seller_id: str = "seller-1", at: dt.datetime | None = None) -> None:
        await self.deliver(ProductUnlistedV1(product_id=product_id, seller_id=seller_id, reason="unpublished",
                                             unlisted_at=at or utcnow()))

    async def pay_order(self, buyer_id: str | None, *lines: tuple[str, str], order_id: str | None = None,
                        paid_at: dt.datetime | None = None, gross_cents: int = 1500) -> tuple[str, list[str]]:
        """orders' order.paid for ``lines`` of (product_id, seller_id); returns (order id, line ids)."""
        order_id = order_id or new_id("order")
        line_ids = [new_id("line") for _ in lines]
        fee = gross_cents // 10
        snapshots = [
            OrderLineSnapshot(line_id=line_id, product_id=product_id, seller_id=seller_id, title="Thing", kind="FILE",
                              is_digital=True, requires_shipping=False, quantity=1, unit_price_cents=gross_cents,
                              gross_cents=gross_cents, fee_cents=fee, net_cents=gross_cents - fee)
            for line_id, (product_id, seller_id) in zip(line_ids, lines, strict=True)
        ]
        total = gross_cents * len(lines)
        paid = paid_at or utcnow()
        self.last_paid = OrderPaidV1(
            order_id=order_id, buyer_id=buyer_id, guest_email=None if buyer_id else "guest@example.com",
            currency="usd", subtotal_cents=total, tax_cents=0, shipping_cents=0, total_cents=total,
            marketplace_percent="10.00", kind="digital", payment_method="stripe", checkout_session_id="cs_1",
            payment_intent_id="pi_1", charge_id="ch_1", placed_at=paid, paid_at=paid, lines=snapshots)
        await self.deliver(self.last_paid)
        return order_id, line_ids

    async def refund_order(self, order_id: str, buyer_id: str | None, *lines: tuple[str, str, str]) -> None:
        """orders' order.refunded for ``lines`` of (line_id, product_id, seller_id)."""
        await self.deliver(OrderRefundedV1(
            order_id=order_id, buyer_id=buyer_id, cause="refund", refunded_cents=1500, currency="usd",
            lines=[{"line_id": a, "product_id": b, "seller_id": c} for a, b, c in lines], refunded_at=utcnow()))

    async def ingest(self, *events: tuple[str, str, str]) -> httpx.Response:
        """POST (type, product_id, visitor) events as the gateway would."""
        body = {"events": [{"type": t, "product_id": p, "visitor": v} for t, p, v in events]}
        return await self.client.post("/internal/engagement-events", json=body, headers=self.service())


def engagement_settings(database_url: str, nats_url: str, public_pem: str, **overrides: Any) -> EngagementSettings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": nats_url,
        "identity_public_key": public_pem,
        # The loops run once at start, then the tests drive them (flush, refresh) themselves.
        "ingest_flush_seconds": 3600.0,
        "trending_interval_seconds": 3600.0,
        **overrides,
    }
    return EngagementSettings(**values)


@contextlib.asynccontextmanager
async def running_engagement(database_url: str, nats_url: str, keys: tuple[str, str], **overrides: Any) -> AsyncIterator[Engagement]:
    app = create_app(engagement_settings(database_url, nats_url, keys[1], **overrides))
    async with running_service(app, keys[0], Engagement) as harness:
        yield harness
