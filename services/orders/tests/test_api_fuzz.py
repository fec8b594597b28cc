"""Schemathesis against the orders service (issue 7's harness): generated requests from its OpenAPI
document, anonymous and with an owner's and a seller's token, with the real catalog pricing placements
(O2) over HTTP; no 5xx, nothing the document does not declare. Runs on SQLite and on PostgreSQL,
bounded in time."""

from __future__ import annotations

import json
from pathlib import Path

from support import CatalogProcess, Keys

from homecraft_shared.testing.api_fuzz import fuzz_api, identities
from homecraft_shared.testing.infra import NatsServer, free_port, service_process


def test_orders_hold_against_generated_requests(
    database_url: str, nats_server: NatsServer, keys: Keys, catalog: CatalogProcess, tmp_path: Path
) -> None:
    env = {
        "ORDERS_CATALOG_URL": catalog.url,
        "ORDERS_SERVICE_PRIVATE_KEY": keys.orders_private,
        "ORDERS_TRUSTED_SERVICE_KEYS": json.dumps({"orders": keys.orders_public}),
        "ORDERS_SMTP_PORT": str(free_port()),  # nothing listens: guest emails wait in the outbox
    }
    with service_process("orders", database_url, nats_server.url, keys.gateway_public, tmp_path, env=env) as url:
        report = fuzz_api(url, identities(keys.gateway_private))
    print(report.summary())
    assert report.operations >= 15 and report.cases >= report.operations, report.summary()
    assert report.failures == [], report.summary()
