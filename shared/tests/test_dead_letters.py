"""Proof (e): an event whose handler always fails lands in dead_letters after max_attempts
deliveries, is not applied, and after the fix ``replay_dead_letters`` applies it exactly once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    CONSUMER,
    STREAM,
    ItemRecordedV1,
    background,
    build_registry,
    consumer_drained,
    dead_letters,
    effect_counts,
    inbox_ids,
    items,
    record_item,
    wait_until,
)

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer, apply_event, replay_dead_letters
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.messaging.tables import DeadLetter

SETTINGS = ConsumerSettings(max_attempts=3, ack_wait_seconds=2.0, backoff_seconds=(0.05, 0.1))


@pytest.mark.parametrize("poison_at", [0, 2, 3], ids=["poison-first", "poison-mid-batch", "poison-last"])
async def test_poison_event_is_dead_lettered_then_replayed_exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, poison_at: int
) -> None:
    broken = True
    calls: dict[str, int] = {}

    async def fail_while_broken(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        calls[data.item_id] = calls.get(data.item_id, 0) + 1
        if broken and data.item_id == "poison":
            raise RuntimeError("handler bug: cannot handle poison")

    registry = build_registry(hook=fail_while_broken)
    # One batch of four with the poison event at poison_at: the healthy events before it ran in the
    # failed batch transaction and must still be applied (one by one), those after it too.
    names = [f"healthy-{i}" for i in range(3)]
    names.insert(poison_at, "poison")
    envelopes = {name: await record_item(sessionmaker, name) for name in names}
    poison = envelopes.pop("poison")
    healthy = list(envelopes.values())
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 4

    consumer = EventConsumer(registry, sessionmaker, js, SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def dead_lettered() -> bool:
            return len(await dead_letters(sessionmaker)) == 1 and await consumer_drained(js)

        await wait_until(dead_lettered, within=20, what="the poison event dead-lettered", tasks=tasks)
        await asyncio.sleep(0.5)  # terminated: no further delivery may come
        info = await js.consumer_info(STREAM, CONSUMER)
        assert info.delivered.consumer_seq == 6  # poison 3 times, each healthy event once

    assert calls["poison"] == 3
    assert consumer.stats.handler_failures == 3 and consumer.stats.dead_lettered == 1
    [letter] = await dead_letters(sessionmaker)
    assert letter.consumer == CONSUMER
    assert letter.event_id == poison.id
    assert letter.attempts == 3
    assert letter.subject == "test_item.recorded.v1"
    assert "cannot handle poison" in letter.error
    assert letter.replayed_at is None
    assert EventEnvelope.model_validate_json(letter.payload) == poison
    # Not applied: neither the effect the handler wrote before failing nor an inbox row. Every
    # healthy event of its batch was applied, once.
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in healthy}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in healthy)

    # Replaying while still broken fails, records the attempt, and leaves the letter for later.
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (0, 1)
    [letter] = await dead_letters(sessionmaker)
    assert letter.replayed_at is None and letter.attempts == 4
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in healthy}

    broken = False  # the fix is deployed
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (1, 0)
    [letter] = await dead_letters(sessionmaker)
    assert letter.replayed_at is not None
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in [*healthy, poison]}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in [*healthy, poison])

    # A second replay finds nothing left to do.
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (0, 0)
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in [*healthy, poison]}


async def test_unreadable_message_is_dead_lettered_without_retries(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    await js.publish("test_item.recorded.v1", b"not an envelope", headers={"Nats-Msg-Id": "garbage-1"})
    consumer = EventConsumer(build_registry(), sessionmaker, js, SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def dead_lettered() -> bool:
            return len(await dead_letters(sessionmaker)) == 1 and await consumer_drained(js)

        await wait_until(dead_lettered, within=20, what="the unreadable message dead-lettered", tasks=tasks)
    [letter] = await dead_letters(sessionmaker)
    assert letter.payload == "not an envelope"
    assert letter.attempts == 1
    assert "unreadable envelope" in letter.error
    assert await effect_counts(sessionmaker) == {}


class FlakyDatabase:
    """A sessionmaker whose database can be 'down' (connections refused), as during a failover."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self.down = False

    def __call__(self) -> AsyncSession:
        if self.down:
            raise ConnectionRefusedError("database is down")
        return self._sessionmaker()


async def test_database_outage_while_dead_lettering_does_not_stop_the_consumer(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    database = FlakyDatabase(sessionmaker)

    async def fail_and_take_the_database_down(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        if data.item_id == "first":
            database.down = True  # the dead letter cannot be written either
            raise RuntimeError("handler bug")

    settings = ConsumerSettings(max_attempts=1, ack_wait_seconds=1.0, backoff_seconds=(0.05,))
    consumer = EventConsumer(build_registry(hook=fail_and_take_the_database_down), database, js, settings)  # type: ignore[arg-type]
    first = await record_item(sessionmaker, "first")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1

    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def dead_lettering_failed() -> bool:
            return "handling a message failed; it will be redelivered" in caplog.text

        # The handler fails on its last attempt, and writing the dead letter fails too.
        await wait_until(dead_lettering_failed, within=10, what="the dead letter's write failing", tasks=tasks)
        tasks.check()
        database.down = False

        second = await record_item(sessionmaker, "second")
        assert await OutboxRelay(sessionmaker, js).publish_pending() == 1

        async def second_applied() -> bool:
            return second.id in await effect_counts(sessionmaker) and await consumer_drained(js)

        await wait_until(second_applied, within=20, what="the consumer still consuming", tasks=tasks)

    # The first event was neither lost nor applied: it came back and, out of attempts, was dead-lettered.
    [letter] = await dead_letters(sessionmaker)
    assert letter.event_id == first.id
    assert await effect_counts(sessionmaker) == {second.id: 1}


async def test_a_database_outage_is_not_the_handlers_failure(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """Weakness 3: deliveries that fail because the database is unreachable use up no attempts."""
    database = FlakyDatabase(sessionmaker)
    settings = ConsumerSettings(max_attempts=1, ack_wait_seconds=1.0, backoff_seconds=(0.05,))
    consumer = EventConsumer(build_registry(), database, js, settings)  # type: ignore[arg-type]
    event = await record_item(sessionmaker, "first")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1
    database.down = True
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def failed_twice() -> bool:
            return consumer.stats.commit_failures >= 2

        await wait_until(failed_twice, within=10, what="two deliveries failing on the database", tasks=tasks)
        database.down = False

        async def applied() -> bool:
            return await effect_counts(sessionmaker) == {event.id: 1} and await consumer_drained(js)

        await wait_until(applied, within=20, what="the event applied after the outage", tasks=tasks)
    assert await dead_letters(sessionmaker) == []
    assert consumer.stats.handler_failures == 0


async def test_a_handler_raising_an_integrity_error_is_dead_lettered_not_taken_for_a_duplicate(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    """Only the inbox row's own key violation, with the row really there, means "already applied"."""

    async def insert_a_duplicate(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        await session.execute(items.insert().values(id=data.item_id, quantity=0))  # the producer's row exists

    event = await record_item(sessionmaker, "a")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1
    consumer = EventConsumer(build_registry(hook=insert_a_duplicate), sessionmaker, js, SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def dead_lettered() -> bool:
            return len(await dead_letters(sessionmaker)) == 1 and await consumer_drained(js)

        await wait_until(dead_lettered, within=20, what="the event dead-lettered", tasks=tasks)
    [letter] = await dead_letters(sessionmaker)
    assert letter.event_id == event.id and letter.attempts == SETTINGS.max_attempts
    assert "IntegrityError" in letter.error
    assert await effect_counts(sessionmaker) == {}
    assert await inbox_ids(sessionmaker) == []


async def test_replaying_a_dead_letter_whose_event_was_already_applied_changes_nothing(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Replay goes through the inbox: an event applied before (or while) it was dead-lettered is
    closed without running its handler, and reported as such, not as replayed."""
    registry = build_registry()
    event = EventEnvelope.model_validate({
        "id": uuid.uuid4(), "type": "test_item.recorded", "version": 1, "source": "testsvc",
        "occurred_at": "2025-01-01T00:00:00Z", "correlation_id": "c", "subject_id": "a",
        "data": {"item_id": "a", "quantity": 1},
    })
    async with sessionmaker() as session:
        assert await apply_event(session, registry, event) is True
        # Its dead letter, as a replica that timed out on it would have written it.
        session.add(DeadLetter(consumer=CONSUMER, event_id=event.id, subject=event.subject,
                               payload=event.model_dump_json(), error="attempts exhausted", attempts=5,
                               failed_at=utcnow()))
        await session.commit()

    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed, result.already_applied) == (0, 0, 1)
    assert await effect_counts(sessionmaker) == {event.id: 1}
    [letter] = await dead_letters(sessionmaker)
    assert letter.replayed_at is not None
