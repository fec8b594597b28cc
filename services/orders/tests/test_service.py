"""The orders service starts, migrates, serves health/readiness/OpenAPI (foundation)."""

from __future__ import annotations

from homecraft_shared.testing import serve_app
from homecraft_shared.testing.checks import assert_migrations_match_models
from orders.app import MIGRATIONS, create_app
from orders.models import Base
from orders.settings import OrdersSettings


async def test_starts_and_reports_ready(database_url: str, nats_url: str) -> None:
    app = create_app(OrdersSettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": "orders"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "background": "ok"}
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Home Craft 3D orders"


async def test_migrations_match_models(database_url: str) -> None:
    await assert_migrations_match_models(MIGRATIONS, database_url, Base.metadata)
