"""Every test gets a clean stand-in (in-memory SQLite) served by uvicorn on a loopback port in a
background thread (``stripe_standin.testing``), driven over real HTTP by the official ``stripe`` library; webhooks go to a
real HTTP receiver that records what it got and answers the status codes a test asks for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from stripe_standin.app import StandinConfig, create_app
from stripe_standin.testing import ServerThread
from stripe_standin.webhooks import RetryPolicy

API_KEY = "sk_test_standin_tests"
PLATFORM_SECRET = "whsec_test_platform"
CONNECT_SECRET = "whsec_test_connect"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook endpoint: records every request; answers from ``statuses`` (then 200)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                snapshot = list(self.received)
            if condition(snapshot):
                return snapshot
            time.sleep(0.02)
        with self.lock:
            raise AssertionError(f"timed out; received {[r.event['type'] for r in self.received]}")

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [r.event for r in self.received if path is None or r.path == path]

    def types(self, path: str | None = None) -> list[str]:
        return [event["type"] for event in self.events(path)]


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as state:
        yield state


@dataclass
class Standin:
    url: str
    client: stripe.StripeClient
    controls: httpx.Client
    receiver: Receiver

    def control(self, method: str, path: str, body: dict[str, Any] | None = None, expect: int = 200) -> Any:
        response = self.controls.request(method, path, json=body)
        assert response.status_code == expect, response.text
        return response.json()


def make_config(receiver: Receiver, **overrides: Any) -> StandinConfig:
    values: dict[str, Any] = {
        "api_key": API_KEY,
        "platform_webhook_url": f"{receiver.url}/webhooks/stripe",
        "platform_webhook_secret": PLATFORM_SECRET,
        "connect_webhook_url": f"{receiver.url}/webhooks/stripe/connect",
        "connect_webhook_secret": CONNECT_SECRET,
        "controls": True,
        "retry": RetryPolicy(base_seconds=0.05, cap_seconds=0.4, timeout_seconds=2.0),
    }
    values.update(overrides)
    return StandinConfig(**values)


def client_for(url: str, api_key: str = API_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": url}, max_network_retries=0)


@contextmanager
def serve_standin(receiver: Receiver) -> Iterator[Standin]:
    with ServerThread(create_app(make_config(receiver))) as url, httpx.Client(base_url=f"{url}/_standin") as controls:
        yield Standin(url, client_for(url), controls, receiver)


@pytest.fixture
def standin(receiver: Receiver) -> Iterator[Standin]:
    with serve_standin(receiver) as running:
        yield running


# -- helpers the tests share -------------------------------------------------------------------


def ready_account(s: Standin, state: str = "complete") -> stripe.Account:
    account = s.client.v1.accounts.create({
        "type": "express", "country": "US", "email": "maker@example.com",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    })
    s.control("POST", f"/accounts/{account.id}/onboarding", {"state": state})
    return s.client.v1.accounts.retrieve(account.id)


def session_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {"price_data": {"currency": "usd", "unit_amount": 2500, "product_data": {"name": "Articulated dragon"}},
             "quantity": 2},
            {"price_data": {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Vase STL file"}},
             "quantity": 1},
        ],
        "success_url": "http://127.0.0.1:9/orders/checkout/success?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://127.0.0.1:9/orders/7/checkout/cancel",
        "client_reference_id": "7",
        "metadata": {"order_id": "7", "order_token": "tok-7", "kind": "mixed"},
        "payment_intent_data": {"metadata": {"order_id": "7", "order_token": "tok-7"}},
        "billing_address_collection": "required",
        "shipping_address_collection": {"allowed_countries": ["US", "CA"]},
        "phone_number_collection": {"enabled": True},
    }
    params.update(overrides)
    return params


def paid_session(s: Standin, **overrides: Any) -> stripe.checkout.Session:
    session = s.client.v1.checkout.sessions.create(session_params(**overrides))
    s.control("POST", f"/checkout/sessions/{session.id}/pay")
    return s.client.v1.checkout.sessions.retrieve(session.id)
