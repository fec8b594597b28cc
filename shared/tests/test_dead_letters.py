"""Proof (e): an event whose handler always fails lands in dead_letters after max_attempts
deliveries, is not applied, and after the fix ``replay_dead_letters`` applies it exactly once."""

from __future__ import annotations

import asyncio

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
    record_item,
    wait_until,
)

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer, replay_dead_letters
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay

SETTINGS = ConsumerSettings(max_attempts=3, ack_wait_seconds=2.0, backoff_seconds=(0.05, 0.1))


async def test_poison_event_is_dead_lettered_then_replayed_exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    broken = True
    calls: dict[str, int] = {}

    async def fail_while_broken(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        calls[data.item_id] = calls.get(data.item_id, 0) + 1
        if broken and data.item_id == "poison":
            raise RuntimeError("handler bug: cannot handle poison")

    registry = build_registry(hook=fail_while_broken)
    poison = await record_item(sessionmaker, "poison")
    healthy = await record_item(sessionmaker, "healthy")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 2

    consumer = EventConsumer(registry, sessionmaker, js, SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def dead_lettered() -> bool:
            return len(await dead_letters(sessionmaker)) == 1 and await consumer_drained(js)

        await wait_until(dead_lettered, within=20, what="the poison event dead-lettered", tasks=tasks)
        await asyncio.sleep(0.5)  # terminated: no further delivery may come
        info = await js.consumer_info(STREAM, CONSUMER)
        assert info.delivered.consumer_seq == 4  # poison 3 times, healthy once

    assert calls == {"poison": 3, "healthy": 1}
    [letter] = await dead_letters(sessionmaker)
    assert letter.consumer == CONSUMER
    assert letter.event_id == poison.id
    assert letter.attempts == 3
    assert letter.subject == "test_item.recorded.v1"
    assert "cannot handle poison" in letter.error
    assert letter.replayed_at is None
    assert EventEnvelope.model_validate_json(letter.payload) == poison
    # Not applied: neither the effect the handler wrote before failing nor an inbox row.
    assert await effect_counts(sessionmaker) == {healthy.id: 1}
    assert await inbox_ids(sessionmaker) == [healthy.id]

    # Replaying while still broken fails, records the attempt, and leaves the letter for later.
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (0, 1)
    [letter] = await dead_letters(sessionmaker)
    assert letter.replayed_at is None and letter.attempts == 4
    assert await effect_counts(sessionmaker) == {healthy.id: 1}

    broken = False  # the fix is deployed
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (1, 0)
    [letter] = await dead_letters(sessionmaker)
    assert letter.replayed_at is not None
    assert await effect_counts(sessionmaker) == {healthy.id: 1, poison.id: 1}
    assert sorted(await inbox_ids(sessionmaker)) == sorted([healthy.id, poison.id])

    # A second replay finds nothing left to do.
    result = await replay_dead_letters(sessionmaker, registry)
    assert (result.replayed, result.failed) == (0, 0)
    assert await effect_counts(sessionmaker) == {healthy.id: 1, poison.id: 1}


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
    settings = ConsumerSettings(max_attempts=1, ack_wait_seconds=1.0, backoff_seconds=(0.05,))
    consumer = EventConsumer(build_registry(), database, js, settings)  # type: ignore[arg-type]
    first = await record_item(sessionmaker, "first")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1

    database.down = True
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def delivered() -> bool:
            return "handler failed" in caplog.text

        # The handler fails (no database) on its last attempt, and so does writing the dead letter.
        await wait_until(delivered, within=10, what="the first delivery", tasks=tasks)
        await asyncio.sleep(0.3)
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
