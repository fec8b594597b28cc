"""The run command's key and trust wiring (decisions 0201, 0602): every service gets its own key; the
gateway's internal contact lookup trusts only refunds, which is told where the gateway is."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.stack import APPS, SERVICES, app_environment, load_or_create_keys


def test_the_gateway_trusts_only_refunds_and_refunds_can_reach_it(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path / "keys")
    ports = {"gateway": 8000, **{name: 8101 + offset for offset, name in enumerate(SERVICES)}}
    gateway = app_environment("gateway", tmp_path, "nats://127.0.0.1:4222", keys, ports)
    refunds = app_environment("refunds", tmp_path, "nats://127.0.0.1:4222", keys, ports)
    catalog = app_environment("catalog", tmp_path, "nats://127.0.0.1:4222", keys, ports)

    assert set(json.loads(gateway["GATEWAY_TRUSTED_SERVICE_KEYS"])) == {"refunds"}
    assert set(json.loads(catalog["CATALOG_TRUSTED_SERVICE_KEYS"])) == set(APPS)  # unchanged elsewhere
    refunds_public = (tmp_path / "keys" / "refunds-public.pem").read_text()
    assert json.loads(gateway["GATEWAY_TRUSTED_SERVICE_KEYS"])["refunds"] == refunds_public
    assert refunds["REFUNDS_SERVICE_PRIVATE_KEY"] == (tmp_path / "keys" / "refunds-private.pem").read_text()
    assert refunds["REFUNDS_GATEWAY_URL"] == "http://127.0.0.1:8000"
