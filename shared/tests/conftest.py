"""Fixtures for the shared library's tests: the test service's schema in a fresh database, and
a JetStream connection with the test service's stream (on the plugin's session nats-server)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import PRODUCER, create_schema

from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.messaging.jetstream import connect, ensure_stream


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await create_schema(database_url)
    engine = create_engine(database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    connection = await connect(nats_url, name="shared-tests")
    js = connection.jetstream()
    await ensure_stream(js, PRODUCER)
    try:
        yield js
    finally:
        await connection.close()
