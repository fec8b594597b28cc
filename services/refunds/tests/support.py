"""Helpers for the refunds tests: the running service (real database, real NATS) in the shared
harness, orders' and payments' facts delivered through the real consumer path, and a real SMTP
server to receive the lifecycle emails."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from homecraft_shared.db import utcnow
from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1
from homecraft_shared.events.payments import PaymentRefundedV1
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing.harness import ServiceHarness, running_service
from refunds.app import create_app
from refunds.settings import RefundsSettings

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


@dataclass
class Line:
    line_id: str
    seller_id: str
    gross_cents: int
    digital: bool = False


@dataclass
class Refunds(ServiceHarness):
    async def pay_order(self, buyer_id: str | None, lines: list[Line], *, tax: int = 0, shipping: int = 0,
                        total: int | None = None, free: bool = False) -> str:
        order_id = str(uuid.uuid4())
        subtotal = sum(line.gross_cents for line in lines)
        now = utcnow()
        await self.deliver(OrderPaidV1(
            order_id=order_id, buyer_id=buyer_id, guest_email=None if buyer_id else "guest@example.com", currency="usd",
            subtotal_cents=subtotal, tax_cents=tax, shipping_cents=shipping,
            total_cents=subtotal + tax + shipping if total is None else total, marketplace_percent="10.00",
            kind="physical", payment_method="free" if free else "stripe", checkout_session_id=None if free else "cs_1",
            payment_intent_id=None if free else "pi_1", charge_id=None if free else "ch_1", placed_at=now, paid_at=now,
            lines=[OrderLineSnapshot(
                line_id=line.line_id, product_id=new_id("product"), seller_id=line.seller_id, title=f"Print {line.line_id}",
                kind="FILE" if line.digital else "MODEL", is_digital=line.digital, requires_shipping=not line.digital,
                quantity=1, unit_price_cents=line.gross_cents, gross_cents=line.gross_cents,
                fee_cents=line.gross_cents // 10, net_cents=line.gross_cents - line.gross_cents // 10) for line in lines],
        ))
        return order_id

    async def refunded_at_stripe(self, order_id: str, request_id: str | None, refund_id: str, amount: int,
                                 total_refunded: int, *, status: str = "succeeded") -> None:
        await self.deliver(PaymentRefundedV1.model_validate({
            "order_id": order_id, "refund_id": refund_id, "status": status, "amount_cents": amount, "currency": "usd",
            "line_ids": [], "refund_request_id": request_id, "debits": [], "refunded_total_cents": total_refunded,
            "charged_total_cents": 100_000, "fully_refunded": False, "observed_at": utcnow().isoformat(),
            "payment_intent_id": "pi_1", "charge_id": "ch_1"}))

    async def get_lines(self, order_id: str) -> list[str]:
        from sqlalchemy import select

        from refunds.models import PaidLine

        async with self.session() as session:
            return list((await session.scalars(select(PaidLine.line_id).where(PaidLine.order_id == order_id))).all())

    async def published(self, event_type: str) -> list[dict[str, Any]]:
        payloads = [json.loads(row.payload) for row in await self.outbox()]
        return [p["data"] for p in payloads if p["type"] == event_type]

    async def ask(self, order_id: str, line_id: str, headers: dict[str, str], reason: str = "damaged") -> Any:
        return await self.client.post("/refund-requests", json={"order_id": order_id, "line_id": line_id,
                                                                "reason": reason, "note": "arrived broken"},
                                      headers=headers)

    async def counts(self, *models: type[Any]) -> dict[str, int]:
        return await super().counts(*models, OutboxEvent)


@contextlib.asynccontextmanager
async def running_refunds(database_url: str, nats_url: str, keys: tuple[str, str], smtp_port: int,
                          **overrides: Any) -> AsyncIterator[Refunds]:
    settings = RefundsSettings(database_url=database_url, nats_url=nats_url, identity_public_key=keys[1],
                               smtp_port=smtp_port, mail_poll_seconds=0.1, escalation_interval_seconds=3600,
                               orders_url="http://127.0.0.1:9", payments_url="http://127.0.0.1:9",
                               call_timeout_seconds=1.0, **overrides)
    async with running_service(create_app(settings), keys[0], Refunds) as running:
        yield running


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)
