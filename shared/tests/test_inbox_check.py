"""The consumer's inbox check for a batch (decisions 0307, 0326): ``applied_among`` answers which events this
consumer applied, not another consumer's; on PostgreSQL it reads one key's worth of rows per event, whether or
not the table has statistics (before 0326, an inbox never analyzed was read through every row of the consumer)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.consumer import applied_among
from homecraft_shared.messaging.tables import InboxEvent

INBOX = InboxEvent.__table__
CONSUMER = "inbox-check-test"


async def add_inbox(sessionmaker: async_sessionmaker[AsyncSession], consumer: str, ids: list[uuid.UUID]) -> None:
    async with sessionmaker() as session:
        now = utcnow()
        await session.execute(insert(INBOX), [{"consumer": consumer, "event_id": event_id, "event_type": "t",
                                               "processed_at": now} for event_id in ids])
        await session.commit()


async def test_only_this_consumers_applied_events_are_found(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    mine, others, new = [uuid.uuid4() for _ in range(3)], [uuid.uuid4() for _ in range(2)], [uuid.uuid4() for _ in range(4)]
    await add_inbox(sessionmaker, CONSUMER, mine)
    await add_inbox(sessionmaker, "another-consumer", others)
    async with sessionmaker() as session:
        found = await applied_among(session, CONSUMER, [new[0], mine[0], others[0], new[1], mine[2], others[1], *new[2:]])
        assert found == {mine[0], mine[2]}
        assert await applied_among(session, CONSUMER, []) == set()


@pytest.mark.parametrize("analyzed", [False, True], ids=["no statistics", "analyzed"])
async def test_postgresql_reads_no_more_rows_than_the_batch_names(
    sessionmaker: async_sessionmaker[AsyncSession], analyzed: bool,
) -> None:
    applied = [uuid.uuid4() for _ in range(5_000)]
    await add_inbox(sessionmaker, CONSUMER, applied)
    batch = [*applied[:4], *(uuid.uuid4() for _ in range(12))]
    async with sessionmaker() as session:
        if (await session.connection()).dialect.name != "postgresql":
            pytest.skip("SQLite plans the IN list on the primary key by itself")
        if analyzed:
            await session.execute(text("ANALYZE inbox_events"))
        assert await applied_among(session, CONSUMER, batch) == set(batch[:4])
        # This transaction's own reads of the table, whatever the plan: rows scanned plus rows fetched by index.
        read = (await session.execute(text(
            "SELECT seq_tup_read + idx_tup_fetch FROM pg_stat_xact_user_tables WHERE relname = 'inbox_events'"))).scalar_one()
        assert read <= len(batch), f"{read} inbox rows read for a batch of {len(batch)}"
