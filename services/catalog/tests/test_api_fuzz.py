"""Schemathesis against the catalog (issue 7): generated requests from its OpenAPI document, anonymous
and with an owner's and a seller's token, on the demo catalog; no 5xx, nothing the document does not
declare. Runs on SQLite and on PostgreSQL (``hc.py test --postgres``), bounded in time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from homecraft_shared.testing.api_fuzz import fuzz_api, identities
from homecraft_shared.testing.infra import NatsServer, service_process


def test_the_catalog_holds_against_generated_requests(
    database_url: str, nats_server: NatsServer, identity_keys: tuple[str, str], tmp_path: Path
) -> None:
    env = {"CATALOG_DATABASE_URL": database_url, "CATALOG_MEDIA_ROOT": str(tmp_path / "media"), "CATALOG_LOG_LEVEL": "WARNING"}
    seeded = subprocess.run([sys.executable, "-m", "catalog", "seed"], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=180)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    with service_process("catalog", database_url, nats_server.url, identity_keys[1], tmp_path) as url:
        report = fuzz_api(url, identities(identity_keys[0]))
    print(report.summary())
    assert report.operations >= 25 and report.cases >= report.operations, report.summary()
    assert report.failures == [], report.summary()
