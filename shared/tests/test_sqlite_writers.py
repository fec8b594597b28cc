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


class _Trips:
    """Counts the statements that go to aiosqlite's connection thread and those run on the loop's thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import threading

        from homecraft_shared import db

        self.thread: list[str] = []
        self.inline: list[str] = []
        original = db._statement

        def statement(connection: Any, operation: Any, parameters: Any, many: bool) -> Any:
            on_loop = threading.current_thread() is threading.main_thread()
            (self.inline if on_loop else self.thread).append(str(operation).split()[0].upper())
            return original(connection, operation, parameters, many)

        monkeypatch.setattr(db, "_statement", statement)

    def clear(self) -> None:
        self.thread.clear()
        self.inline.clear()


async def test_a_statement_is_one_trip_and_a_writing_transaction_runs_inline(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0306: each statement is one trip to the connection's thread (not cursor, execute,
    fetch and close); once the transaction has written it holds the write lock and its statements
    run on the event loop's thread; a new transaction starts on the thread again. Decision 0206: the
    first write itself runs on the loop's thread when SQLite's lock is free (no other process holds it)."""
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    trips_to_thread: list[str] = []
    try:
        async with sessionmaker() as session:
            await session.execute(sa.select(1))  # the pool's connection is open
            connection = (await session.connection()).sync_connection
            assert connection is not None
            aio = connection.connection.dbapi_connection._connection  # type: ignore[union-attr]
            original_execute = aio._execute

            async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
                trips_to_thread.append(getattr(fn, "__name__", repr(fn)))
                return await original_execute(fn, *args, **kwargs)

            monkeypatch.setattr(aio, "_execute", counting)
            trips = _Trips(monkeypatch)

            assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 0
            assert (trips.thread, trips.inline, len(trips_to_thread)) == (["SELECT"], [], 1)

            result = await session.execute(items.insert().values(id="a", quantity=1).returning(items.c.id))
            assert result.scalar_one() == "a"  # the first write: inline (the lock was free), RETURNING rows back
            assert (trips.thread, trips.inline, len(trips_to_thread)) == (["SELECT"], ["INSERT"], 1)

            trips.clear()
            many = await session.execute(items.insert(), [{"id": f"m{n}", "quantity": n} for n in range(3)])
            assert many.rowcount == 3
            updated = await session.execute(items.update().where(items.c.id.like("m%")).values(quantity=7))
            assert updated.rowcount == 3
            rows = (await session.execute(sa.select(items.c.id, items.c.quantity).order_by(items.c.id))).all()
            assert [tuple(row) for row in rows] == [("a", 1), ("m0", 7), ("m1", 7), ("m2", 7)]
            assert (trips.thread, trips.inline) == ([], ["INSERT", "UPDATE", "SELECT"])
            assert len(trips_to_thread) == 1  # nothing more went to the thread

            await session.commit()
            assert trips_to_thread[1:] == ["commit_and_hand_over"]  # the commit (fsync, hand-over) on the thread

            trips.clear()
            assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 4
            await session.execute(items.delete().where(items.c.id == "a"))
            await session.execute(items.delete().where(items.c.id == "m0"))
            await session.rollback()
            assert (trips.thread, trips.inline) == (["SELECT"], ["DELETE", "DELETE"])

            trips.clear()  # after the rollback: a read goes to the thread again, and nothing was deleted
            assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 4
            assert (trips.thread, trips.inline) == (["SELECT"], [])
    finally:
        await engine.dispose()


async def test_a_failed_first_write_does_not_make_the_transaction_run_inline(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a write that succeeded holds the write lock: after a failed one, statements stay on the thread
    (the failed first write itself ran on the loop's thread, the lock being free: decision 0206)."""
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id="x", quantity=1))
            await session.commit()
        trips = _Trips(monkeypatch)
        async with sessionmaker() as session:
            with pytest.raises(sa.exc.IntegrityError):
                await session.execute(items.insert().values(id="x", quantity=2))
            await session.execute(sa.select(items.c.id))
            await session.execute(sa.select(items.c.id))
            assert (trips.thread, trips.inline) == (["SELECT", "SELECT"], ["INSERT"])
            await session.rollback()
    finally:
        await engine.dispose()


async def _counting_trips(connection: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the functions this connection sends to aiosqlite's thread from now on."""
    raw = await connection.get_raw_connection()
    aio = raw.dbapi_connection._connection
    original = aio._execute
    sent: list[str] = []

    async def counting(fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(fn, *args, **kwargs)

    monkeypatch.setattr(aio, "_execute", counting)
    return sent


async def test_a_connection_that_only_read_goes_back_to_the_pool_without_a_trip(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0205: pysqlite opens no transaction for a read, so the pool's ROLLBACK on return (and a
    COMMIT of nothing) would do nothing on aiosqlite's thread: it is not sent there. A connection that
    wrote still commits and rolls back on the thread, and what it wrote is committed or gone (its writes
    ran on the loop's thread, the lock being free: decision 0206)."""
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            sent = await _counting_trips(connection, monkeypatch)
            assert (await connection.execute(sa.select(sa.func.count()).select_from(items))).scalar() == 0
            await connection.commit()
            await connection.rollback()
        assert sent == ["<lambda>"]  # the SELECT alone; no COMMIT, no ROLLBACK, no reset on return

        async with engine.connect() as connection:
            sent = await _counting_trips(connection, monkeypatch)
            await connection.execute(items.insert().values(id="kept", quantity=1))
            await connection.commit()
            await connection.execute(items.insert().values(id="dropped", quantity=1))
            await connection.rollback()
        assert sent == ["commit_and_hand_over", "rollback"]
        async with engine.connect() as connection:
            assert (await connection.execute(sa.select(items.c.id))).scalars().all() == ["kept"]
    finally:
        await engine.dispose()


async def test_a_read_marked_inline_runs_on_the_loops_thread_and_a_write_so_marked_does_not(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0205: ``INLINE_READ`` runs a short read on the event loop's thread (no trip); unmarked reads
    still go to aiosqlite's thread, and a write carrying the option still takes the write queue (and, as
    any first write, runs on the loop's thread only because SQLite's lock is free: decision 0206)."""
    from homecraft_shared.db import INLINE_READ

    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(items.insert().values(id="a", quantity=1))
            await connection.commit()
            trips = _Trips(monkeypatch)
            inline = sa.select(items.c.id, items.c.quantity).where(items.c.id == sa.bindparam("id")) \
                .execution_options(**INLINE_READ)
            assert (await connection.execute(inline, {"id": "a"})).all() == [("a", 1)]
            assert (trips.thread, trips.inline) == ([], ["SELECT"])
            assert (await connection.execute(sa.select(items.c.id))).scalars().all() == ["a"]
            assert (trips.thread, trips.inline) == (["SELECT"], ["SELECT"])
            trips.clear()
            await connection.execute(items.insert().values(id="b", quantity=2).execution_options(**INLINE_READ))
            assert (trips.thread, trips.inline) == ([], ["INSERT"])
            await connection.commit()
            trips.clear()
            rows = await connection.execute(inline, {"id": "b"})  # a new (read) transaction: inline again
            assert rows.all() == [("b", 2)] and (trips.thread, trips.inline) == ([], ["SELECT"])
    finally:
        await engine.dispose()


async def test_a_first_write_meeting_another_processs_lock_waits_on_the_thread_not_the_loop(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision 0206: the first write is tried on the loop's thread without waiting (busy timeout 0 for that
    statement). When another connection (another process) holds SQLite's write lock, that try fails at
    once, nothing is written, and the write runs on aiosqlite's thread, which waits in SQLite's busy
    handler as before: the event loop keeps running meanwhile, the write lands once the lock is given
    back, and the connection's busy timeout is what it was."""
    import sqlite3

    from sqlalchemy.engine import make_url

    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    other = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None, check_same_thread=False)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(ticking())
    try:
        trips = _Trips(monkeypatch)
        other.execute("BEGIN IMMEDIATE")  # another writer holds SQLite's write lock
        other.execute("INSERT INTO test_items (id, quantity) VALUES ('theirs', 1)")
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        async with engine.begin() as connection:
            await connection.execute(items.insert().values(id="ours", quantity=2))
            waited_ticks = ticks
            timeout = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        # The try on the loop failed at once, the write waited on the thread while the loop ran on (the
        # PRAGMAs are the new connection's set-up and the busy timeout read above).
        assert [[t for t in ran if t != "PRAGMA"] for ran in (trips.thread, trips.inline)] == [["INSERT"], ["INSERT"]]
        assert waited_ticks >= 10
        assert timeout == 30000
        async with engine.connect() as connection:
            assert sorted((await connection.execute(sa.select(items.c.id))).scalars().all()) == ["ours", "theirs"]
    finally:
        ticker.cancel()
        other.close()
        await engine.dispose()


async def test_a_commit_hands_the_lock_to_the_next_writer_before_its_own_task_resumes(sqlite_url: str) -> None:
    """Decision 0311: once SQLite's COMMIT has returned on the connection's thread, the process's next writer
    gets the write queue at once, without waiting for the committing task to be resumed first (a turn of a
    busy event loop later). With a writer waiting, it writes before the committer's code after the commit runs."""
    await create_schema(sqlite_url)
    engine = create_engine(sqlite_url)
    event.listen(engine.sync_engine, "connect", _no_busy_wait)
    sessionmaker = create_sessionmaker(engine)
    order: list[str] = []
    first_wrote = asyncio.Event()

    async def committer() -> None:
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id="first", quantity=1))
            first_wrote.set()
            await asyncio.sleep(0.01)  # the second writer is queued for the lock meanwhile
            await session.commit()
            order.append("committer resumed")

    async def next_writer() -> None:
        await first_wrote.wait()
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id="second", quantity=2))
            order.append("next writer wrote")
            await session.commit()

    try:
        await asyncio.gather(committer(), next_writer())
        assert order == ["next writer wrote", "committer resumed"]
        async with sessionmaker() as session:
            assert await session.scalar(sa.select(sa.func.count()).select_from(items)) == 2
    finally:
        await engine.dispose()
