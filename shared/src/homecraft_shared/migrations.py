"""Alembic, the same way in every service.

Each service keeps its migrations in ``<package>/migrations`` with a three-line ``env.py`` calling
``run_migrations_env``; its history starts at the platform's revision 0001 (``PLATFORM_VERSIONS``:
the messaging tables, written once here); ``upgrade_to_head`` runs them (at start-up in local mode, or as a
separate ``python -m <service> migrate`` step in production).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from homecraft_shared.db import create_engine

# The platform's own revisions (0001: the messaging tables), part of every service's history.
PLATFORM_VERSIONS = Path(__file__).parent / "platform_migrations"


def alembic_config(script_location: Path, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join([str(PLATFORM_VERSIONS), str(script_location / "versions")])
    )
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(script_location: Path, database_url: str) -> None:
    """Synchronous: call from a worker thread (``asyncio.to_thread``) inside a running loop."""
    command.upgrade(alembic_config(script_location, database_url), "head")


def run_migrations_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url must be set"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(_run_online(url, metadata))


async def _run_online(url: str, metadata: MetaData) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync, metadata)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, metadata: MetaData) -> None:
    # Batch mode lets ALTERs work on SQLite; it is a no-op on PostgreSQL.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
