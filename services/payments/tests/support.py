"""Test support for the payments service: signed Stripe webhooks, a running service, ledger checks."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from homecraft_shared.messaging.tables import DeadLetter
from homecraft_shared.testing.harness import ServiceHarness, running_service
from payments.app import create_app
from payments.models import StripeEvent
from payments.settings import LOCAL_CONNECT_WEBHOOK_SECRET, LOCAL_WEBHOOK_SECRET, PaymentsSettings


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """A Stripe-Signature header, computed as Stripe does (t=..., v1=HMAC-SHA256 of "t.payload")."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None,
                 account: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": event_type,
        "created": int(time.time()) if created is None else created, "livemode": False, "api_version": "2025-01-27",
        "data": {"object": obj}, "pending_webhooks": 1,
    }
    if account:
        event["account"] = account
    return event


@dataclass
class Payments(ServiceHarness):
    """The running payments service in the shared harness (tokens, sessions, ``deliver`` for events,
    ``outbox``, ``counts``), plus signed Stripe webhooks and the Stripe event store."""

    async def webhook(self, event: dict[str, Any], *, connect: bool = False, secret: str | None = None,
                      timestamp: int | None = None) -> httpx.Response:
        """POST a Stripe event to the platform (or Connect) endpoint, signed as Stripe signs it."""
        payload = json.dumps(event).encode()
        secret = secret or (LOCAL_CONNECT_WEBHOOK_SECRET if connect else LOCAL_WEBHOOK_SECRET)
        path = "/webhooks/stripe/connect" if connect else "/webhooks/stripe"
        return await self.client.post(path, content=payload, headers={
            "Stripe-Signature": sign(payload, secret, timestamp), "Content-Type": "application/json"})

    async def stored(self, event_id: str) -> StripeEvent | None:
        async with self.sessionmaker() as session:
            return await session.get(StripeEvent, event_id)

    async def stored_count(self) -> int:
        return await self.count(StripeEvent)

    async def processed(self, event_id: str, *, statuses: tuple[str, ...] = ("processed", "ignored", "waiting"),
                        within: float = 15.0) -> StripeEvent:
        row = await eventually(lambda: self.stored(event_id), lambda r: r is not None and r.status in statuses, within)
        assert row is not None
        return row


async def eventually(fetch: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], within: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await fetch()
        if ok(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}{await _dead_letters()}")
        await asyncio.sleep(0.05)


_current: list[Payments] = []


async def _dead_letters() -> str:
    """Dead letters of the running service, to explain a wait that never ended."""
    if not _current:
        return ""
    async with _current[-1].sessionmaker() as session:
        letters = (await session.scalars(select(DeadLetter))).all()
    return "".join(f"\n  dead letter {d.subject}: {d.error}" for d in letters)


def payments_settings(database_url: str, nats_url: str, public_key: str, **overrides: Any) -> PaymentsSettings:
    values: dict[str, Any] = {
        "database_url": database_url, "nats_url": nats_url, "identity_public_key": public_key,
        "consumer_backoff_seconds": (0.2, 0.5, 1.0), "consumer_ack_wait_seconds": 5.0, "consumer_max_attempts": 3,
        "relay_poll_seconds": 0.1, "log_json": False,
    }
    values.update(overrides)
    return PaymentsSettings(**values)


@contextlib.asynccontextmanager
async def running_payments(settings: PaymentsSettings, private_pem: str) -> AsyncIterator[Payments]:
    async with running_service(create_app(settings), private_pem, Payments) as payments:
        _current.append(payments)
        try:
            yield payments
        finally:
            _current.pop()
