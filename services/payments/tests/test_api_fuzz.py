"""Schemathesis against the payments service (issue 7's harness): generated requests from its OpenAPI
document, anonymous and with an owner's and a seller's token, against a real ``python -m payments serve``
that talks to the Stripe stand-in through the official library and to a real orders process (for
checkout); no 5xx, nothing the document does not declare. Runs on SQLite and on PostgreSQL, bounded in
time."""

from __future__ import annotations

import contextlib
from pathlib import Path

from homecraft_shared.testing.api_fuzz import fuzz_api, identities
from homecraft_shared.testing.infra import NatsServer, free_port, service_process
from stripe_standin.testing import running_standin

API_KEY = "sk_test_payments_fuzz"


def test_payments_hold_against_generated_requests(
    database_url: str, nats_server: NatsServer, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    port = free_port()  # the webhooks the stand-in sends go nowhere: the API is what is tested here
    (tmp_path / "orders").mkdir()
    (tmp_path / "payments").mkdir()
    orders_env = {"ORDERS_CATALOG_URL": f"http://127.0.0.1:{free_port()}", "ORDERS_SMTP_PORT": str(free_port())}
    with contextlib.ExitStack() as stack:
        standin = stack.enter_context(running_standin(
            api_key=API_KEY, platform_webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe",
            connect_webhook_url=f"http://127.0.0.1:{port}/webhooks/stripe/connect"))
        orders = stack.enter_context(service_process(
            "orders", f"sqlite+aiosqlite:///{tmp_path / 'orders' / 'orders.db'}", nats_server.url, identity_keys[1],
            tmp_path / "orders", env=orders_env))
        env = {"PAYMENTS_STRIPE_API_BASE": standin.url, "PAYMENTS_STRIPE_SECRET_KEY": API_KEY,
               "PAYMENTS_ORDERS_URL": orders, "PAYMENTS_STRIPE_MAX_NETWORK_RETRIES": "0"}
        url = stack.enter_context(service_process("payments", database_url, nats_server.url, identity_keys[1],
                                                  tmp_path / "payments", env=env))
        report = fuzz_api(url, identities(identity_keys[0]))
    print(report.summary())
    assert report.operations >= 20 and report.cases >= report.operations, report.summary()
    assert report.failures == [], report.summary()
