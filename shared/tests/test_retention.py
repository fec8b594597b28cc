"""The messaging tables are pruned: old published outbox rows, inbox rows past any redelivery, replayed
dead letters; never an unpublished event or a dead letter still waiting for its replay."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.retention import RetentionPolicy, prune_messaging_tables
from homecraft_shared.messaging.tables import DeadLetter, InboxEvent, OutboxEvent

DAY = dt.timedelta(days=1)


def outbox(published_days_ago: float | None, created_days_ago: float = 60) -> OutboxEvent:
    now = utcnow()
    return OutboxEvent(
        event_id=uuid.uuid4(), subject="x.v1", payload="{}", attempts=1, created_at=now - created_days_ago * DAY,
        published_at=None if published_days_ago is None else now - published_days_ago * DAY,
    )


def dead_letter(replayed_days_ago: float | None) -> DeadLetter:
    now = utcnow()
    return DeadLetter(
        consumer="c", event_id=uuid.uuid4(), subject="x.v1", payload="{}", error="boom", attempts=5,
        failed_at=now - 200 * DAY, replayed_at=None if replayed_days_ago is None else now - replayed_days_ago * DAY,
    )


async def test_prunes_only_what_can_no_longer_matter(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    keep_outbox = [outbox(None), outbox(1)]
    keep_inbox = InboxEvent(consumer="c", event_id=uuid.uuid4(), event_type="x", processed_at=utcnow() - 31 * DAY)
    keep_dead = [dead_letter(None), dead_letter(10)]
    async with sessionmaker() as session:
        session.add_all([*keep_outbox, outbox(8), outbox(30), keep_inbox, *keep_dead, dead_letter(91)])
        session.add(InboxEvent(consumer="c", event_id=uuid.uuid4(), event_type="x", processed_at=utcnow() - 46 * DAY))
        await session.commit()

    result = await prune_messaging_tables(sessionmaker, RetentionPolicy())

    assert (result.outbox, result.inbox, result.dead_letters) == (2, 1, 1)
    async with sessionmaker() as session:
        assert set(await session.scalars(select(OutboxEvent.event_id))) == {r.event_id for r in keep_outbox}
        assert set(await session.scalars(select(InboxEvent.event_id))) == {keep_inbox.event_id}
        assert set(await session.scalars(select(DeadLetter.event_id))) == {r.event_id for r in keep_dead}


def test_inbox_retention_must_outlive_the_stream() -> None:
    with pytest.raises(ValueError, match="must be longer than the stream"):
        RetentionPolicy(inbox_days=30)


async def test_an_inbox_row_is_kept_while_its_event_has_a_dead_letter_awaiting_replay(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Weakness 4: a replay after the inbox row was pruned would apply the event twice."""
    applied_then_dead_lettered = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(InboxEvent(consumer="c", event_id=applied_then_dead_lettered, event_type="x",
                               processed_at=utcnow() - 46 * DAY))
        letter = dead_letter(None)
        letter.event_id = applied_then_dead_lettered
        session.add(letter)
        await session.commit()
    assert (await prune_messaging_tables(sessionmaker, RetentionPolicy())).inbox == 0
    async with sessionmaker() as session:
        assert set(await session.scalars(select(InboxEvent.event_id))) == {applied_then_dead_lettered}
