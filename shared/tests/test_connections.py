"""The session's connection without the greenlet trip (decision 0308): ``session_connection`` answers
exactly as ``session.connection()`` would, and ``flush_pending`` flushes exactly when there is something
to write; a kept connection never outlives its transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import IntegrityError, PendingRollbackError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.connections import flush_pending, session_connection
from homecraft_shared.db import utcnow
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

