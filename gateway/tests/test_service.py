"""The gateway service starts, migrates, serves health/readiness/OpenAPI (foundation)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.app import MIGRATIONS, create_app
from gateway.models import Base
from gateway.settings import GatewaySettings
from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.checks import assert_migrations_match_models, assert_service_ready


async def test_starts_and_reports_ready(database_url: str, nats_url: str) -> None:
    app = create_app(GatewaySettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        await assert_service_ready(client, "gateway")


async def test_migrations_match_models(database_url: str) -> None:
    await assert_migrations_match_models(MIGRATIONS, database_url, Base.metadata)


def test_outside_local_mode_every_service_url_must_be_given() -> None:
    """Loopback defaults serve the run command only; a deployment that forgets one fails at start-up."""
    private, _ = generate_keypair()
    own, _ = generate_keypair()
    urls = {f"{name}_url": f"http://{name}:8000" for name in ("catalog", "orders", "payments", "refunds", "engagement")}
    with pytest.raises(ValidationError, match="GATEWAY_ORDERS_URL"):
        GatewaySettings(environment="production", identity_private_key=private, service_private_key=own,
                        **{k: v for k, v in urls.items() if k != "orders_url"})
    # E1: its own service identity, to record views and clicks through engagement (decision 0201).
    with pytest.raises(ValidationError, match="GATEWAY_SERVICE_PRIVATE_KEY"):
        GatewaySettings(environment="production", identity_private_key=private, **urls)
    settings = GatewaySettings(environment="production", identity_private_key=private, service_private_key=own, **urls)
    assert settings.orders_url == "http://orders:8000"
