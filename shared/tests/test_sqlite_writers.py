"""SQLite: the writers of one process queue for the database's one write lock (issue 12) instead of
sleeping in SQLite's busy handler; readers are never queued."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from testsvc import create_schema, items

from homecraft_shared.db import create_engine, create_sessionmaker, is_sqlite


@pytest.fixture
def sqlite_url(database_url: str) -> str:
    if not is_sqlite(database_url):
        pytest.skip("SQLite's single write lock")
    return database_url


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    # After the engine's own pragmas: SQLite answers "database is locked" at once instead of waiting,
    # so any two writers of this process meeting at SQLite's lock fail the test.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


async def test_concurrent_write_transactions_of_one_process_queue_instead_of_colliding(sqlite_url: str) -> None:
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url, pool_size=20, max_overflow=0)
    event.listen(engine.sync_engine, "connect", _no_busy_wait)
    sessionmaker = create_sessionmaker(engine)

    async def writer(n: int) -> None:
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id=f"a-{n}", quantity=n))
            await asyncio.sleep(0.005)  # the transaction stays open across event-loop turns
            await session.execute(items.insert().values(id=f"b-{n}", quantity=n))
            await session.commit()

    try:
        await asyncio.gather(*(writer(n) for n in range(20)))
        async with sessionmaker() as session:
            assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 40
    finally:
        await engine.dispose()


async def test_a_rolled_back_writer_hands_the_lock_on(sqlite_url: str) -> None:
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    event.listen(engine.sync_engine, "connect", _no_busy_wait)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id="gone", quantity=1))
            await session.rollback()
        async with sessionmaker() as session:  # closed without commit: rolled back on return to the pool
            await session.execute(items.insert().values(id="gone-too", quantity=1))
        async with asyncio.timeout(10):  # a lock never handed on would hang here
            async with sessionmaker() as session:
                await session.execute(items.insert().values(id="kept", quantity=1))
                await session.commit()
        async with sessionmaker() as session:
            assert (await session.scalars(sa.select(items.c.id))).all() == ["kept"]
    finally:
        await engine.dispose()


async def test_readers_are_not_queued_behind_an_open_write_transaction(sqlite_url: str) -> None:
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as writer:
            await writer.execute(items.insert().values(id="pending", quantity=1))
            async with asyncio.timeout(10), sessionmaker() as reader:  # would wait for the writer if queued
                assert await reader.scalar(sa.select(sa.func.count()).select_from(items)) == 0
            await writer.commit()
    finally:
        await engine.dispose()
