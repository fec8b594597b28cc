"""The stand-in as the run command starts it: ``python -m stripe_standin serve`` with a SQLite file.
Its state and its undelivered webhooks survive a restart. And the helper other packages' tests use."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import stripe
from conftest import Receiver, session_params

from homecraft_shared.testing.infra import free_port
from stripe_standin.testing import running_standin


@contextmanager
def serve(port: int, database: Path, receiver: Receiver) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_standin", "serve", "--port", str(port), "--database", str(database), "--controls",
         "--retry-base-seconds", "0.05", "--retry-cap-seconds", "0.2"],
        env={**os.environ, "STRIPE_STANDIN_API_KEY": "sk_test_process",
             "STRIPE_STANDIN_WEBHOOK_URL": f"{receiver.url}/webhooks/stripe",
             "STRIPE_STANDIN_WEBHOOK_SECRET": "whsec_process"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60  # a loaded 2-core CI machine
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, "the stand-in exited"
            assert time.monotonic() < deadline, "the stand-in did not become ready"
            time.sleep(0.05)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught
        assert process.wait(timeout=10) in (0, -signal.SIGTERM)


def test_state_and_pending_webhooks_survive_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    port, database = free_port(), tmp_path / "stripe-standin.db"
    receiver.statuses.extend([503] * 1000)  # payments is "down": nothing is accepted yet
    with serve(port, database, receiver) as url:
        client = stripe.StripeClient("sk_test_process", base_addresses={"api": url}, max_network_retries=0)
        session = client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "order-7"})
        httpx.post(f"{url}/_standin/checkout/sessions/{session.id}/pay").raise_for_status()
        receiver.wait_for(lambda got: len(got) >= 3)
    assert database.exists()
    refused = len(receiver.received)
    receiver.statuses.clear()  # payments is back
    with serve(port, database, receiver) as url:
        client = stripe.StripeClient("sk_test_process", base_addresses={"api": url}, max_network_retries=0)
        again = client.v1.checkout.sessions.retrieve(session.id)
        assert again.status == "complete" and again.payment_intent
        replay = client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "order-7"})
        assert replay.id == session.id  # idempotency keys persist too
        got = receiver.wait_for(lambda got: {"checkout.session.completed"} <= {r.event["type"] for r in got[refused:]})
        delivered = [r.event for r in got[refused:]]
        assert sorted(e["type"] for e in delivered) == ["charge.succeeded", "checkout.session.completed",
                                                        "payment_intent.succeeded"]
        signed = next(r for r in got[refused:] if r.event["type"] == "checkout.session.completed")
        event = stripe.Webhook.construct_event(signed.body, signed.headers["stripe-signature"], "whsec_process")
        assert event.data.object.id == session.id


def test_the_helper_for_other_packages_tests(receiver: Receiver) -> None:
    with running_standin(platform_webhook_url=f"{receiver.url}/webhooks/stripe") as standin:
        client = stripe.StripeClient(standin.api_key, base_addresses={"api": standin.url}, max_network_retries=0)
        session = client.v1.checkout.sessions.create(session_params())
        paid = standin.control("POST", f"/checkout/sessions/{session.id}/pay")
        assert paid["payment_status"] == "paid"
        first = receiver.wait_for(lambda got: len(got) == 3)[0]
        stripe.Webhook.construct_event(first.body, first.headers["stripe-signature"], standin.platform_secret)
        url = standin.url
    try:
        httpx.get(f"{url}/readyz", timeout=1)
    except httpx.HTTPError:
        return
    raise AssertionError("the stand-in is still serving after the block")
