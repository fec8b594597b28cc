"""The engagement service starts, migrates, serves health/readiness/OpenAPI (foundation)."""

from __future__ import annotations

from engagement.app import MIGRATIONS, create_app
from engagement.models import Base
from engagement.settings import EngagementSettings
from homecraft_shared.testing import serve_app
from homecraft_shared.testing.checks import assert_migrations_match_models, assert_service_ready


async def test_starts_and_reports_ready(database_url: str, nats_url: str) -> None:
    app = create_app(EngagementSettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        await assert_service_ready(client, "engagement")


async def test_migrations_match_models(database_url: str) -> None:
    await assert_migrations_match_models(MIGRATIONS, database_url, Base.metadata)


async def test_openapi_declares_the_problems_each_endpoint_can_answer(database_url: str, nats_url: str) -> None:
    app = create_app(EngagementSettings(database_url=database_url, nats_url=nats_url))
    async with serve_app(app) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    declared = {
        ("/reviews", "post"): {"404", "409"},
        ("/products/{product_id}/threads", "post"): {"404", "409", "429"},
        ("/threads/{thread_id}/messages", "post"): {"403", "404", "429"},
        ("/messages/{message_id}", "delete"): {"403", "404"},
        ("/internal/engagement-events", "post"): {"403"},
    }
    for (path, method), statuses in declared.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (path, method, sorted(responses))
        assert "application/problem+json" in responses["404" if "404" in statuses else "403"]["content"]
