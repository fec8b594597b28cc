"""Proof (b): the relay dying after JetStream acked a publish but before the row was marked
published causes no second effect downstream (JetStream dedupe by Nats-Msg-Id, then the inbox)."""

from __future__ import annotations

import signal

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    STREAM,
    background,
    build_registry,
    consumer_drained,
    effect_counts,
    inbox_ids,
    outbox_rows,
    record_item,
    run_script,
    stream_messages,
    wait_until,
)

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.outbox import OutboxRelay

SETTINGS = ConsumerSettings(ack_wait_seconds=2.0, backoff_seconds=(0.1,))


async def test_relay_killed_between_publish_and_mark_causes_no_second_effect(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, database_url: str, nats_url: str
) -> None:
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(3)]

    code, output = await run_script("relay_crash.py", database_url, nats_url)
    assert code == -signal.SIGKILL, f"the relay should have been killed mid-pass:\n{output}"

    # JetStream holds the first event, but the outbox still says nothing was published.
    assert await stream_messages(js) == 1
    assert (await js.get_msg(STREAM, seq=1)).headers["Nats-Msg-Id"] == str(envelopes[0].id)
    assert [row.published_at for row in await outbox_rows(sessionmaker)] == [None, None, None]

    # A healthy relay publishes all three, the first one again under the same Nats-Msg-Id...
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 3
    rows = await outbox_rows(sessionmaker)
    assert all(row.published_at is not None for row in rows)
    assert [row.event_id for row in rows] == [e.id for e in envelopes]
    # ...and JetStream keeps one message per event.
    assert await stream_messages(js) == 3

    consumer = EventConsumer(build_registry(), sessionmaker, js, SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def all_applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 3 and await consumer_drained(js)

        await wait_until(all_applied, within=20, what="3 effects, consumer drained", tasks=tasks)
        assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}

        # A copy that got past the duplicate window (a fresh Nats-Msg-Id) is stopped by the inbox.
        await js.publish(rows[0].subject, rows[0].payload.encode(), headers={"Nats-Msg-Id": "replayed-copy"})
        assert await stream_messages(js) == 4

        async def copy_consumed() -> bool:
            info = await js.consumer_info(STREAM, consumer.registry.consumer_name)
            return info.delivered.stream_seq == 4 and await consumer_drained(js)

        await wait_until(copy_consumed, within=20, what="the copy delivered and acked", tasks=tasks)

    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in envelopes)
