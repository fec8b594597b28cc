"""Proof (c): a consumer killed in the middle of a handler (effect written, not committed) gets
the event again, and the effect happens exactly once."""

from __future__ import annotations

import signal

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    CONSUMER,
    CRASH_CONSUMER_SETTINGS,
    STREAM,
    background,
    build_registry,
    consumer_drained,
    effect_counts,
    inbox_ids,
    record_item,
    run_script,
    wait_until,
)

from homecraft_shared.messaging.consumer import EventConsumer
from homecraft_shared.messaging.outbox import OutboxRelay


async def test_consumer_killed_mid_handler_applies_the_event_exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, database_url: str, nats_url: str
) -> None:
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(5)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 5

    code, output = await run_script("consumer_crash.py", database_url, nats_url, "3")
    assert code == -signal.SIGKILL, f"the consumer should have been killed mid-handler:\n{output}"
    assert "handling item-2: effect written" in output

    # Nothing of the dying transaction survived. The consumer applies a fetched batch in one
    # transaction, so the effects of the two events before the third died with it (one at a time,
    # they would have committed); either way no effect is partial or doubled.
    assert await effect_counts(sessionmaker) == {}

    consumer = EventConsumer(build_registry(), sessionmaker, js, CRASH_CONSUMER_SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def all_applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 5 and await consumer_drained(js)

        await wait_until(all_applied, within=30, what="5 effects, consumer drained", tasks=tasks)

    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in envelopes)
    # The third event (at least) really was delivered again: more deliveries than stream messages.
    info = await js.consumer_info(STREAM, CONSUMER)
    assert info.delivered.stream_seq == 5
    assert info.delivered.consumer_seq > 5
