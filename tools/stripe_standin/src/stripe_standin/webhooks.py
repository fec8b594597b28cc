"""Signed webhook delivery: two endpoints (platform events, Connect events), each with its own
secret; retries with exponential backoff until the endpoint answers 2xx; every attempt recorded.

Signing is Stripe's: ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``,
computed at each attempt (a late retry carries a fresh timestamp, as Stripe's do).

Chaos mode (for the payments tests and benchmarks) holds new deliveries until the stream of events
pauses for ``hold_seconds`` (or the oldest has waited ``max_hold_seconds``), then releases them
newest first and ``copies`` times over: every event arrives late, out of order and more than once.

Delivery before the response (decision 0401, ``PUT /_standin/webhook-delivery``): with
``mode = "before_response"``, the events a ``/v1`` call or a control emits are sent ``copies`` times
each (every event once, then every event again, in the order emitted) and each receiver's answer is
awaited, after the call's transaction committed and before the call answers -- Stripe's webhook can
then be stored by the receiver before the API call that caused it returns. A copy that is not answered
2xx is left to the worker's usual retries. Outside a call (hosted pages) and in the default
``mode = "queued"``, events are queued for the worker as always; before_response wins over chaos.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

import httpx

from stripe_standin.store import Store

log = logging.getLogger("stripe_standin.webhooks")

PLATFORM = "platform"
CONNECT = "connect"
USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@dataclass
class Endpoint:
    name: str
    url: str | None
    secret: str


@dataclass
class Chaos:
    enabled: bool = False
    copies: int = 2
    hold_seconds: float = 0.3
    max_hold_seconds: float = 3.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


QUEUED: Final = "queued"
BEFORE_RESPONSE: Final = "before_response"
MAX_COPIES = 10


@dataclass
class WebhookDelivery:
    """When a call's events are delivered: queued for the worker, or before the call answers."""

    mode: Literal["queued", "before_response"] = QUEUED
    copies: int = 1

    def __post_init__(self) -> None:
        if self.mode not in (QUEUED, BEFORE_RESPONSE):
            raise ValueError(f"mode must be {QUEUED!r} or {BEFORE_RESPONSE!r}, not {self.mode!r}")
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or not 1 <= self.copies <= MAX_COPIES:
            raise ValueError(f"copies must be a whole number from 1 to {MAX_COPIES}, not {self.copies!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The deliveries queued by the call being served, to send before it answers (None: not collecting).
_inline: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("stripe_standin_inline", default=None)


@dataclass
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_attempts: int = 0  # 0: until the endpoint answers 2xx
    timeout_seconds: float = 10.0

    def delay(self, attempts: int) -> float:
        return float(min(self.base_seconds * 2.0 ** max(attempts - 1, 0), self.cap_seconds))


class Deliverer:
    def __init__(self, store: Store, endpoints: dict[str, Endpoint], policy: RetryPolicy, chaos: Chaos,
                 delivery: WebhookDelivery | None = None) -> None:
        self.store = store
        self.endpoints = endpoints
        self.policy = policy
        self.chaos = chaos
        self.delivery = delivery or WebhookDelivery()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    # -- queueing (called inside the operation's transaction) ----------------------------------

    def enqueue(self, event_id: str, endpoint: str) -> int:
        """Queue one event for one endpoint; returns how many deliveries were queued."""
        if self.endpoints[endpoint].url is None:
            return 0
        now = time.time()
        inline = _inline.get()
        if inline is not None and self.delivery.mode == BEFORE_RESPONSE:
            # Sent by deliver_inline before the call answers; the worker never picks 'inline' rows.
            inline.extend(self.store.add_delivery(event_id, endpoint, "inline", now) for _ in range(self.delivery.copies))
            return self.delivery.copies
        copies = max(1, self.chaos.copies) if self.chaos.enabled else 1
        state = "held" if self.chaos.enabled else "pending"
        for _ in range(copies):
            self.store.add_delivery(event_id, endpoint, state, now)
        self._wake.set()
        return copies

    @contextlib.contextmanager
    def collecting(self) -> Iterator[list[int]]:
        """Around one call: the deliveries its events queue for before_response, to pass to deliver_inline."""
        collected: list[int] = []
        token = _inline.set(collected)
        try:
            yield collected
        finally:
            _inline.reset(token)

    async def deliver_inline(self, delivery_ids: list[int]) -> None:
        """Send a committed call's before_response deliveries now, one after another, each answer awaited:
        copy round by copy round (every event once, then again), events in the order emitted."""
        rows = [row for row in (self.store.delivery(i) for i in delivery_ids) if row is not None]
        by_event: dict[str, list[Any]] = {}
        for row in rows:
            by_event.setdefault(row["event_id"], []).append(row)
        rounds = max((len(copies) for copies in by_event.values()), default=0)
        for copy in range(rounds):
            for copies in by_event.values():
                if copy < len(copies):
                    await self._attempt(copies[copy])

    def resend(self, event_id: str, endpoint: str) -> int:
        if self.endpoints[endpoint].url is None:
            return 0
        self.store.add_delivery(event_id, endpoint, "pending", time.time())
        self._wake.set()
        return 1

    # -- the worker ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.store.requeue_inline(time.time())  # a call cut short by a stop: its deliveries go to the worker
        self._client = httpx.AsyncClient(timeout=self.policy.timeout_seconds)
        self._tasks = [asyncio.create_task(self._endpoint_loop(name), name=f"webhooks-{name}") for name in self.endpoints]
        self._tasks.append(asyncio.create_task(self._chaos_loop(), name="webhooks-chaos"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def _endpoint_loop(self, name: str) -> None:
        """One delivery at a time per endpoint, in due order, so order (and chaos) is deterministic."""
        while True:
            try:
                delivery = self.store.next_due(name, time.time())
                if delivery is None:
                    await self._sleep_until_due(name)
                    continue
                await self._attempt(delivery)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let the worker die: log and go on
                log.exception("webhook worker error")
                await asyncio.sleep(0.5)

    async def _sleep_until_due(self, endpoint: str) -> None:
        """Until this endpoint's next delivery is due, or something new is queued (at most 1 s)."""
        self._wake.clear()
        earliest = self.store.earliest_due(endpoint)
        wait = 1.0 if earliest is None else max(0.0, min(1.0, earliest - time.time()))
        if wait <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _attempt(self, delivery: Any) -> None:
        endpoint = self.endpoints[delivery["endpoint"]]
        found = self.store.event(delivery["event_id"])
        if found is None or endpoint.url is None:
            self.store.record_attempt(delivery, None, "event or endpoint gone", 0.0, None, give_up=True)
            return
        event, _ = found
        event["pending_webhooks"] = self.store.pending_count(event["id"])
        payload = json.dumps(event, indent=2).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "Stripe-Signature": sign(payload, endpoint.secret),
        }
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        assert self._client is not None
        try:
            response = await self._client.post(endpoint.url, content=payload, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = response.text[:500]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        attempts = delivery["attempts"] + 1
        delivered = status is not None and 200 <= status < 300
        give_up = not delivered and self.policy.max_attempts > 0 and attempts >= self.policy.max_attempts
        next_due = None if delivered or give_up else time.time() + self.policy.delay(attempts)
        self.store.record_attempt(delivery, status, error, time.monotonic() - started, next_due, give_up)
        if not delivered:
            then = "giving up" if give_up else f"next try in {self.policy.delay(attempts):.1f}s"
            log.info("webhook %s %s to %s failed (attempt %d, %s): %s", event["id"], event["type"], endpoint.url,
                     attempts, then, error or status)

    async def _chaos_loop(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            try:
                self._release_held()
            except Exception:
                log.exception("chaos release error")

    def _release_held(self) -> None:
        held = self.store.held()
        if not held:
            return
        now = time.time()
        newest, oldest = max(row["created"] for row in held), min(row["created"] for row in held)
        if not self.chaos.enabled or now - newest >= self.chaos.hold_seconds or now - oldest >= self.chaos.max_hold_seconds:
            # Newest event first; each copy round after the previous one.
            by_event: dict[str, list[Any]] = {}
            for row in held:
                by_event.setdefault(row["event_id"], []).append(row)
            order = sorted(by_event, key=lambda event_id: self.store.event_seq(event_id) or 0, reverse=True)
            rounds = max(len(rows) for rows in by_event.values())
            step = 0
            with self.store.transaction():
                for copy in range(rounds):
                    for event_id in order:
                        rows = by_event[event_id]
                        if copy < len(rows):
                            self.store.release(rows[copy]["id"], now + step * 1e-6)
                            step += 1
            self._wake.set()
