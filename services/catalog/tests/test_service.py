"""The catalog service starts, migrates, serves health/readiness/OpenAPI (foundation)."""

from __future__ import annotations

from catalog.app import MIGRATIONS, create_app
from catalog.models import Base
from catalog.settings import CatalogSettings
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.checks import assert_migrations_match_models, assert_service_ready


async def test_starts_and_reports_ready(database_url: str, nats_url: str) -> None:
    app = create_app(CatalogSettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        await assert_service_ready(client, "catalog")


async def test_migrations_match_models(database_url: str) -> None:
    await assert_migrations_match_models(MIGRATIONS, database_url, Base.metadata)
