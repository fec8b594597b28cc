"""The session's connection without the greenlet trip (decision 0308): ``session_connection`` answers
exactly as ``session.connection()`` would, and ``flush_pending`` flushes exactly when there is something
to write; a kept connection never outlives its transaction. ``execute`` (decision 0311) runs a written
SQLite transaction's statements without the greenlet and everything else through ``connection.execute``,
with the same results and errors. A ``Prepared`` statement (decision 0318) runs straight on asyncpg on
PostgreSQL, in the session's transaction, with its types' processing, SQLAlchemy's errors and the same rows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, TypeDecorator, bindparam, event, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from homecraft_shared.connections import Prepared, execute, flush_pending, session_connection
from homecraft_shared.db import runs_inline, utcnow
from homecraft_shared.messaging.tables import InboxEvent

INBOX = InboxEvent.__table__


def inbox_row(event_id: uuid.UUID) -> dict[str, object]:
    return {"consumer": "connections-test", "event_id": event_id, "event_type": "t", "processed_at": utcnow()}


async def count(sessionmaker: async_sessionmaker[AsyncSession], *ids: uuid.UUID) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(INBOX).where(INBOX.c.event_id.in_(ids))) or 0)


async def test_the_kept_connection_is_the_transactions_own_and_a_new_transaction_gets_its_own(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        connection = await session_connection(session)
        assert connection is await session.connection()
        assert await session_connection(session) is connection
        await connection.execute(insert(INBOX), inbox_row(first))
        await session.commit()
        # A new transaction, begun by something else first: session_connection gives ITS connection, and
        # what is written through it is rolled back with it.
        await session.execute(select(func.count()).select_from(INBOX))
        assert await session_connection(session) is await session.connection()
        await (await session_connection(session)).execute(insert(INBOX), inbox_row(second))
        await session.rollback()
    assert await count(sessionmaker, first) == 1
    assert await count(sessionmaker, second) == 0


async def test_a_transaction_that_must_be_rolled_back_is_refused_as_session_connection_refuses_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    taken = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(InboxEvent(**inbox_row(taken)))
        await session.commit()
    async with sessionmaker() as session:
        await session_connection(session)  # kept for this transaction
        session.add(InboxEvent(**inbox_row(taken)))  # the same key: the flush fails
        with pytest.raises(IntegrityError):
            await session.flush()
        with pytest.raises(PendingRollbackError):
            await session_connection(session)
        await session.rollback()
        assert await session_connection(session) is await session.connection()


async def test_flush_pending_flushes_what_the_unit_of_work_holds_and_skips_an_empty_one(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    flushes: list[int] = []
    async with sessionmaker() as session:
        event.listen(session.sync_session, "before_flush", lambda s, *_: flushes.append(len(s.new)))
        await flush_pending(session)
        assert flushes == []  # nothing to write: no flush
        added = uuid.uuid4()
        session.add(InboxEvent(**inbox_row(added)))
        await flush_pending(session)
        assert flushes == [1]
        # Written in the open transaction: a Core read on the same connection sees it before the commit.
        seen = await (await session_connection(session)).scalar(
            select(func.count()).select_from(INBOX).where(INBOX.c.event_id == added))
        assert seen == 1
        row = await session.get(InboxEvent, ("connections-test", added))
        assert row is not None
        row.event_type = "changed"
        await flush_pending(session)  # a changed object is flushed too
        assert flushes == [1, 0]
        await session.rollback()



async def test_execute_skips_the_greenlet_exactly_for_a_written_sqlite_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch,
) -> None:
    through_greenlet: list[str] = []
    original = AsyncConnection.execute

    async def counted(self: AsyncConnection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        through_greenlet.append(str(statement).split()[0])
        return await original(self, statement, *args, **kwargs)

    monkeypatch.setattr(AsyncConnection, "execute", counted)
    first, second = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker() as session:
        connection = await session_connection(session)
        sqlite = connection.dialect.name == "sqlite"
        assert not runs_inline(connection)  # nothing written yet: a read may wait for its thread
        assert (await execute(connection, select(func.count()).select_from(INBOX).where(
            INBOX.c.event_id == first))).scalar() == 0
        await execute(connection, insert(INBOX), inbox_row(first))  # the first write takes the lock
        assert runs_inline(connection) is sqlite
        await execute(connection, insert(INBOX), [inbox_row(second)])  # executemany
        changed = await execute(connection, update(INBOX).where(INBOX.c.event_id == second).values(event_type="u"))
        assert changed.rowcount == 1
        seen = await execute(connection, select(INBOX.c.event_type).where(INBOX.c.event_id.in_([first, second]))
                             .order_by(INBOX.c.event_type))
        assert seen.scalars().all() == ["t", "u"]
        # Past the first write only PostgreSQL's statements went through the greenlet.
        assert through_greenlet == (["SELECT", "INSERT"] if sqlite else ["SELECT", "INSERT", "INSERT", "UPDATE", "SELECT"])
        with pytest.raises(IntegrityError):  # the same errors as connection.execute
            await execute(connection, insert(INBOX), inbox_row(first))
        await session.rollback()
        assert not runs_inline(connection)  # the transaction ended: the lock is given back
    assert await count(sessionmaker, first, second) == 0  # the inline statements rolled back with it


async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str,
) -> None:
    """PostgreSQL (decision 0314): the engine has no ``pool_pre_ping``; a pooled connection whose
    backend the server ended while it sat in the pool is replaced when checked out, so the next
    session works instead of failing on a closed connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to close a connection")
    async with sessionmaker() as session:  # a connection into the pool, idle there afterwards
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    admin = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with admin.connect() as connection:
            assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await admin.dispose()
    for _ in range(100):  # the pool's connection reads the server's goodbye on this event loop
        await asyncio.sleep(0.01)
    async with sessionmaker() as session:
        assert await session.scalar(text("SELECT pg_backend_pid()")) != pid


class Shouted(TypeDecorator[str]):
    """Stored upper-case with a "!" (bind), read back without it (result): shows both processings ran."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.upper() + "!"

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.rstrip("!")


NOTES = Table("prepared_notes", MetaData(), Column("id", Integer, primary_key=True), Column("word", Shouted()),
              Column("kind", String(20)))
ADD_NOTE = Prepared(insert(NOTES).values(id=bindparam("id"), word=bindparam("word"), kind="plain")
                    .returning(NOTES.c.id, NOTES.c.word))
# "plain" and 1 are literal values bound by the statement itself, not by the caller.
PLAIN_NOTES = select(NOTES.c.id, NOTES.c.word, func.count().over().label("total")).where(
    NOTES.c.kind == "plain", NOTES.c.id >= 1, NOTES.c.word != bindparam("unwanted")).order_by(NOTES.c.id)


async def test_a_prepared_statement_runs_in_the_sessions_transaction_with_the_same_rows(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        connection = await session_connection(session)
        await connection.run_sync(NOTES.metadata.create_all)
        await session.commit()
    try:
        async with sessionmaker() as session:
            connection = await session_connection(session)
            seen: list[str] = []

            def note(*args: Any) -> None:
                seen.append(args[2])

            event.listen(connection.sync_engine, "before_cursor_execute", note)
            try:
                # The transaction's first statement: asyncpg's transaction is begun for it.
                added = (await execute(connection, ADD_NOTE, {"id": 1, "word": "hello"})).one()
                assert (added.id, added.word) == (1, "HELLO")
                assert (await execute(connection, ADD_NOTE, {"id": 2, "word": "bye"})).scalar() == 2
            finally:
                event.remove(connection.sync_engine, "before_cursor_execute", note)
            postgres = connection.dialect.name == "postgresql"
            assert (seen == []) is postgres  # on PostgreSQL it went straight to asyncpg, not through the engine
            stored = (await connection.execute(text("SELECT word FROM prepared_notes ORDER BY id"))).scalars().all()
            assert stored == ["HELLO!", "BYE!"]
            parameters = {"unwanted": "nothing"}
            expected = (await connection.execute(PLAIN_NOTES, parameters)).all()
            got = (await execute(connection, Prepared(PLAIN_NOTES), parameters)).all()
            assert got == expected == [(1, "HELLO", 2), (2, "BYE", 2)]
            assert [row.word for row in got] == ["HELLO", "BYE"]
            await session.rollback()
        async with sessionmaker() as session:  # rolled back with the transaction, the first statement too
            assert await session.scalar(select(func.count()).select_from(NOTES)) == 0
    finally:
        async with sessionmaker() as session:
            await (await session_connection(session)).run_sync(NOTES.metadata.drop_all)
            await session.commit()


async def test_a_prepared_statements_errors_are_sqlalchemys_and_the_transaction_must_be_rolled_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    taken = uuid.uuid4()
    add = Prepared(insert(INBOX).values({column: bindparam(column) for column in inbox_row(taken)}))
    async with sessionmaker() as session:
        connection = await session_connection(session)
        await execute(connection, add, inbox_row(taken))
        with pytest.raises(IntegrityError):
            await execute(connection, add, inbox_row(taken))
        await session.rollback()
        await execute(await session_connection(session), add, inbox_row(taken))  # usable again after the rollback
        await session.commit()
    assert await count(sessionmaker, taken) == 1
    async with sessionmaker() as session:
        await session.execute(INBOX.delete().where(INBOX.c.event_id == taken))
        await session.commit()


def test_prepared_refuses_what_it_cannot_run_straight_on_asyncpg() -> None:
    expanding = Prepared(select(INBOX.c.event_id).where(INBOX.c.event_id.in_(bindparam("ids", expanding=True))))
    with pytest.raises(TypeError, match="expanding"):
        expanding.compiled_for(postgresql.asyncpg.dialect())  # type: ignore[attr-defined]
