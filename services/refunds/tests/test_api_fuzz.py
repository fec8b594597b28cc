"""Schemathesis against the refunds service (issue 7's harness): generated requests from its OpenAPI
document, anonymous and with an owner's and a seller's token; no 5xx, nothing the document does not
declare. Runs on SQLite and on PostgreSQL, bounded in time."""

from __future__ import annotations

from pathlib import Path

from homecraft_shared.testing.api_fuzz import fuzz_api, identities
from homecraft_shared.testing.infra import NatsServer, service_process


def test_refunds_hold_against_generated_requests(
    database_url: str, nats_server: NatsServer, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    with service_process("refunds", database_url, nats_server.url, identity_keys[1], tmp_path) as url:
        report = fuzz_api(url, identities(identity_keys[0]))
    print(report.summary())
    assert report.operations >= 8 and report.cases >= report.operations, report.summary()
    assert report.failures == [], report.summary()
