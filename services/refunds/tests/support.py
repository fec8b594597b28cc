"""Helpers for the refunds tests: the running service (real database, real NATS) in the shared
harness, orders' and payments' facts delivered through the real consumer path, a real gateway
process (registered users' addresses, decision 0602) and, from homecraft_shared.testing.mail, a
real SMTP server to receive the lifecycle emails."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from homecraft_shared.db import utcnow
from homecraft_shared.events.orders import OrderLineSnapshot, OrderPaidV1
from homecraft_shared.events.payments import PaymentRefundedV1
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing.harness import ServiceHarness, running_service
from homecraft_shared.testing.infra import wait_for_port
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
    overrides.setdefault("gateway_url", "http://127.0.0.1:9")  # no gateway unless a test starts one
    settings = RefundsSettings(database_url=database_url, nats_url=nats_url, identity_public_key=keys[1],
                               smtp_port=smtp_port, mail_poll_seconds=0.1, mail_backoff_seconds=(0.2, 0.5),
                               escalation_interval_seconds=3600, orders_url="http://127.0.0.1:9",
                               payments_url="http://127.0.0.1:9", call_timeout_seconds=1.0, **overrides)
    async with running_service(create_app(settings), keys[0], Refunds) as running:
        yield running


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


# The gateway's demo accounts (gateway.accounts.demo): id -> (username, email).
DEMO_USERS = {"seller-ada": ("ada", "ada@demo.homecraft3d.test"), "buyer-demo": ("buyer", "buyer@demo.homecraft3d.test")}


@dataclass
class GatewayProcess:
    """A real gateway (``python -m gateway serve``) with the demo accounts, on a fixed free port so it
    can be stopped and started again where the refunds service expects it."""

    folder: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.folder / "gateway.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(self.port)],
                                        env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_port(self.port, 60, self.process)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError((self.folder / "gateway.log").read_text()[-3000:]) from exc

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@contextlib.contextmanager
def gateway_process(folder: Path, nats_url: str, keys: tuple[str, str], port: int, *,
                    trusted: dict[str, str]) -> Iterator[GatewayProcess]:
    """The gateway with its demo accounts, trusting the services in ``trusted`` (name -> public PEM);
    not started yet (``start()``), stopped at the end."""
    closed = "http://127.0.0.1:9"
    env = {**os.environ, "GATEWAY_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'gateway.db'}",
           "GATEWAY_NATS_URL": nats_url, "GATEWAY_IDENTITY_PRIVATE_KEY": keys[0], "GATEWAY_IDENTITY_PUBLIC_KEY": keys[1],
           "GATEWAY_TRUSTED_SERVICE_KEYS": json.dumps(trusted), "GATEWAY_LOG_LEVEL": "WARNING",
           "GATEWAY_DEMO_PASSWORDS": json.dumps({username: f"{username}-password-1" for username, _ in DEMO_USERS.values()}),
           **{f"GATEWAY_{name}_URL": closed for name in ("CATALOG", "ORDERS", "PAYMENTS", "REFUNDS", "ENGAGEMENT")}}
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "gateway", "seed-demo"], env=env, check=True, capture_output=True, timeout=120)
    gateway = GatewayProcess(folder=folder, port=port, env=env)
    try:
        yield gateway
    finally:
        gateway.stop()
