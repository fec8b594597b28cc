"""Proof (a): a state change and its event commit together or not at all; plus the inbox, directly."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    CONSUMER,
    ItemRecordedV1,
    build_registry,
    count_rows,
    effect_counts,
    effects,
    inbox_ids,
    items,
    outbox_rows,
    record_item,
)

from homecraft_shared.messaging.consumer import apply_event
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import record_event, stage_event
from homecraft_shared.messaging.tables import InboxEvent, OutboxEvent
from homecraft_shared.observability import correlation_scope
from homecraft_shared.testing.statements import rows_per_statement

Maker = async_sessionmaker[AsyncSession]


async def test_rolled_back_state_change_leaves_no_event(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        await session.execute(items.insert().values(id="a", quantity=1))
        record_event(session, ItemRecordedV1(item_id="a", quantity=1), subject_id="a")
        await session.flush()  # both rows really were written inside the transaction...
        assert await session.scalar(sa.select(sa.func.count()).select_from(OutboxEvent)) == 1
        await session.rollback()  # ...and go together

    assert await count_rows(sessionmaker, items) == 0
    assert await count_rows(sessionmaker, OutboxEvent) == 0


async def test_error_in_unit_of_work_leaves_neither_row(sessionmaker: Maker) -> None:
    with pytest.raises(RuntimeError, match="business rule"):
        async with sessionmaker.begin() as session:  # commits on success, rolls back on error
            await session.execute(items.insert().values(id="a", quantity=1))
            record_event(session, ItemRecordedV1(item_id="a", quantity=1), subject_id="a")
            await session.flush()
            raise RuntimeError("business rule broken after the event was recorded")

    assert await count_rows(sessionmaker, items) == 0
    assert await count_rows(sessionmaker, OutboxEvent) == 0


async def test_failed_commit_leaves_no_event(sessionmaker: Maker) -> None:
    await record_item(sessionmaker, "a")
    # The same item again: the state change fails at commit, and must take its event with it.
    with pytest.raises(IntegrityError):
        await record_item(sessionmaker, "a", quantity=2)

    rows = await outbox_rows(sessionmaker)
    assert len(rows) == 1
    assert EventEnvelope.model_validate_json(rows[0].payload).data == {"item_id": "a", "quantity": 1}


async def test_committed_state_change_and_event_both_persist(sessionmaker: Maker) -> None:
    with correlation_scope("corr-123"):
        envelope = await record_item(sessionmaker, "a", quantity=3)

    async with sessionmaker() as session:
        assert (await session.execute(sa.select(items.c.id, items.c.quantity))).all() == [("a", 3)]
    rows = await outbox_rows(sessionmaker)
    assert len(rows) == 1
    row = rows[0]
    assert row.event_id == envelope.id
    assert row.subject == "test_item.recorded.v1"
    assert row.published_at is None and row.attempts == 0
    stored = EventEnvelope.model_validate_json(row.payload)
    assert stored == envelope
    assert (stored.type, stored.version, stored.source, stored.subject_id) == ("test_item.recorded", 1, "testsvc", "a")
    assert stored.correlation_id == "corr-123"
    assert stored.data == {"item_id": "a", "quantity": 3}


async def test_staged_events_are_written_in_one_insert_at_the_commit_and_forgotten_by_a_rollback(
    sessionmaker: Maker,
) -> None:
    """stage_event (decision 0308): the rows wait on the session and go in ONE statement just before the
    commit, in the same transaction as the state change; a rollback takes them with it."""
    async with sessionmaker() as session:
        with rows_per_statement((await session.connection()).sync_engine, "INSERT INTO outbox") as inserts:
            await session.execute(items.insert().values(id="a", quantity=1))
            staged = [await stage_event(session, ItemRecordedV1(item_id=f"a{n}", quantity=n), subject_id="a")
                      for n in range(3)]
            assert inserts == []  # nothing written yet
            await session.commit()
            assert inserts == [3]  # all three in one statement, at the commit
            # A rolled-back transaction's staged rows go with it, and are not written by the next commit.
            await session.execute(items.insert().values(id="b", quantity=1))
            await stage_event(session, ItemRecordedV1(item_id="b", quantity=1), subject_id="b")
            await session.rollback()
            await session.commit()
            assert inserts == [3]
    rows = await outbox_rows(sessionmaker)
    assert sorted(row.event_id for row in rows) == sorted(envelope.id for envelope in staged)
    assert await count_rows(sessionmaker, items) == 1


async def test_a_staged_event_survives_a_rolled_back_savepoint_staged_outside_it_and_not_one_staged_inside(
    sessionmaker: Maker,
) -> None:
    async with sessionmaker() as session:
        outside = await stage_event(session, ItemRecordedV1(item_id="out", quantity=1), subject_id="out")
        savepoint = await session.begin_nested()
        await stage_event(session, ItemRecordedV1(item_id="in", quantity=1), subject_id="in")
        await savepoint.rollback()
        await session.commit()
    rows = await outbox_rows(sessionmaker)
    assert [row.event_id for row in rows] == [outside.id]


def _envelope(item_id: str = "a") -> EventEnvelope:
    return EventEnvelope.model_validate(
        {
            "id": uuid.uuid4(),
            "type": "test_item.recorded",
            "version": 1,
            "source": "testsvc",
            "occurred_at": "2025-01-01T00:00:00Z",
            "correlation_id": "corr-1",
            "subject_id": item_id,
            "data": {"item_id": item_id, "quantity": 1},
        }
    )


async def test_inbox_applies_an_event_once(sessionmaker: Maker) -> None:
    registry = build_registry()
    envelope = _envelope()
    for expected in (True, False, False):
        async with sessionmaker() as session:
            assert await apply_event(session, registry, envelope) is expected
            await session.commit()

    assert await effect_counts(sessionmaker) == {envelope.id: 1}
    assert await inbox_ids(sessionmaker) == [envelope.id]


async def test_inbox_is_per_consumer(sessionmaker: Maker) -> None:
    envelope = _envelope()
    for consumer in (CONSUMER, "otherconsumer"):
        async with sessionmaker() as session:
            assert await apply_event(session, build_registry(consumer), envelope) is True
            await session.commit()
    assert await effect_counts(sessionmaker) == {envelope.id: 2}


async def test_concurrent_duplicate_commit_is_rejected_by_the_inbox_key(sessionmaker: Maker) -> None:
    """Two replicas handling the same event at once: the second commit fails, its effect with it."""
    registry = build_registry()
    envelope = _envelope()
    first, second = sessionmaker(), sessionmaker()
    try:
        assert await apply_event(first, registry, envelope) is True
        await first.commit()
        # The second replica checked the inbox before the first committed: simulate by skipping the check.
        await second.execute(effects.insert().values(event_id=envelope.id, item_id="a"))
        second.add(InboxEvent(consumer=CONSUMER, event_id=envelope.id, event_type=envelope.type,
                              processed_at=envelope.occurred_at))
        with pytest.raises(IntegrityError):
            await second.commit()
    finally:
        await first.close()
        await second.close()
    assert await effect_counts(sessionmaker) == {envelope.id: 1}


async def test_handler_events_commit_with_its_effect_and_carry_causation(sessionmaker: Maker) -> None:
    """A handler's own events ride in the handler's transaction, caused by the event handled."""
    broken = True

    async def record_follow_up(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        record_event(session, ItemRecordedV1(item_id=f"{data.item_id}-next", quantity=0), subject_id=data.item_id)
        if broken:
            raise RuntimeError("handler failed after recording its event")

    registry = build_registry(hook=record_follow_up)
    envelope = _envelope()
    with pytest.raises(RuntimeError):
        async with sessionmaker() as session:
            await apply_event(session, registry, envelope)
            await session.commit()
    assert await count_rows(sessionmaker, OutboxEvent) == 0
    assert await effect_counts(sessionmaker) == {}
    assert await inbox_ids(sessionmaker) == []

    broken = False
    async with sessionmaker() as session:
        assert await apply_event(session, registry, envelope) is True
        await session.commit()
    rows = await outbox_rows(sessionmaker)
    assert len(rows) == 1
    follow_up = EventEnvelope.model_validate_json(rows[0].payload)
    assert follow_up.correlation_id == envelope.correlation_id
    assert follow_up.causation_id == str(envelope.id)
    assert await effect_counts(sessionmaker) == {envelope.id: 1}
    assert await inbox_ids(sessionmaker) == [envelope.id]
