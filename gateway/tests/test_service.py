"""The gateway service starts, migrates, serves health/readiness/OpenAPI (foundation)."""

from __future__ import annotations

from gateway.app import MIGRATIONS, create_app
from gateway.models import Base
from gateway.settings import GatewaySettings
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.checks import assert_migrations_match_models, assert_service_ready


async def test_starts_and_reports_ready(database_url: str, nats_url: str) -> None:
    app = create_app(GatewaySettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        await assert_service_ready(client, "gateway")


async def test_migrations_match_models(database_url: str) -> None:
    await assert_migrations_match_models(MIGRATIONS, database_url, Base.metadata)
