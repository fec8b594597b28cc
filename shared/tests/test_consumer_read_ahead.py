"""A registry's read-ahead (decision 0317): it runs once per batch transaction, before the first handler, in that
transaction, with the data of the batch's events of its contract that are not applied yet, parsed once for it and
their handlers."""

from __future__ import annotations

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import ItemRecordedV1, background, build_registry, consumer_drained, effect_counts, record_item, wait_until

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay

Maker = async_sessionmaker[AsyncSession]
READ = "test_read_ahead"


async def test_a_batch_reads_ahead_once_in_its_transaction_before_its_handlers(sessionmaker: Maker,
                                                                               js: JetStreamContext) -> None:
    calls: list[list[str]] = []
    handled_after_read: list[bool] = []
    read_data: list[ItemRecordedV1] = []
    handled_data: list[ItemRecordedV1] = []

    async def handler_sees_the_read(session: AsyncSession, data: ItemRecordedV1, _: EventEnvelope) -> None:
        handled_after_read.append(data.item_id in session.info.get(READ, ()))
        handled_data.append(data)

    registry = build_registry(hook=handler_sees_the_read)

    @registry.read_ahead_for(ItemRecordedV1)
    async def read(session: AsyncSession, events: list[ItemRecordedV1]) -> None:
        calls.append([event.item_id for event in events])
        read_data.extend(events)
        session.info[READ] = {event.item_id for event in events}

    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(6)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 6
    consumer = EventConsumer(registry, sessionmaker, js, ConsumerSettings(fetch_timeout_seconds=0.3))
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 6 and await consumer_drained(js)

        await wait_until(applied, within=30, what="every event applied and acked", tasks=tasks)
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    # every event was read ahead once, in the transaction its handler then ran in (the session's info is the
    # transaction's: a new session per batch transaction), and the read covered several events at once
    assert sorted(item for call in calls for item in call) == [f"item-{i}" for i in range(6)]
    assert handled_after_read == [True] * 6
    assert len(calls) == consumer.stats.batch_transactions and max(len(call) for call in calls) > 1
    # each event's data was parsed once: the handler got the very object the read-ahead was given
    assert sorted(map(id, handled_data)) == sorted(map(id, read_data))
