"""pytest fixtures: a real nats-server, a fresh database per test (SQLite, or PostgreSQL when
``HOMECRAFT_TEST_POSTGRES_URL`` names an admin URL), and identity keys."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from homecraft_shared.identity import generate_keypair
from homecraft_shared.testing.infra import NatsServer

POSTGRES_ENV = "HOMECRAFT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def nats_url(nats_server: NatsServer) -> AsyncIterator[str]:
    """The shared server's URL, with every stream deleted first so each test starts empty."""
    connection = await nats.connect(nats_server.url)
    js = connection.jetstream()
    for name in await _stream_names(js):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(name)
    await connection.close()
    yield nats_server.url


async def _stream_names(js: nats.js.JetStreamContext) -> list[str]:
    try:
        return [info.config.name for info in await js.streams_info() if info.config.name]
    except NotFoundError:
        return []


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    admin_url = os.environ.get(POSTGRES_ENV)
    if not admin_url:
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_postgres(admin_url, f'CREATE DATABASE "{name}"'))
    yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_postgres(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _postgres(admin_url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def identity_keys() -> tuple[str, str]:
    """(private PEM, public PEM): the private half plays the gateway's part in tests."""
    return generate_keypair()
