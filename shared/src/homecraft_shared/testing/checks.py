"""Assertions every service's tests share."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from homecraft_shared.db import create_engine
from homecraft_shared.migrations import upgrade_to_head


async def assert_migrations_match_models(migrations: Path, database_url: str, metadata: MetaData) -> None:
    """Migrating an empty database to head yields exactly the schema the models declare."""
    await asyncio.to_thread(upgrade_to_head, migrations, database_url)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(_diff, metadata)
    finally:
        await engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def _diff(connection: Connection, metadata: MetaData) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [change for change in compare_metadata(context, metadata) if not _ignorable(change)]


def _ignorable(change: object) -> bool:
    # SQLite FTS5 virtual tables and their shadow tables are created by migrations, not models.
    return isinstance(change, tuple) and change[0] == "remove_table" and "_fts" in getattr(change[1], "name", "")


async def assert_service_ready(client: httpx.AsyncClient, service: str) -> None:
    """Liveness, readiness (database, NATS, background loops) and OpenAPI all answer."""
    assert (await client.get("/healthz")).json() == {"status": "ok", "service": service}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "nats": "ok", "background": "ok"}
    assert (await client.get("/openapi.json")).json()["info"]["title"] == f"Home Craft 3D {service}"
