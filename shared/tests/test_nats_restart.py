"""Proof (d): nats-server killed (SIGKILL) while events flow, down for longer than the relay's publish
timeout and the consumer's fetch timeout (counted, not slept), then restarted on the same port and
store: publishes fail and are retried under the same id, JetStream drops the copies, no acked event
is lost and none is applied twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    PRODUCER,
    background,
    build_registry,
    consumer_drained,
    effect_counts,
    outbox_rows,
    record_item,
    stream_messages,
    wait_until,
)

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.jetstream import connect, ensure_stream
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.testing.infra import NatsServer

BEFORE_OUTAGE = 60  # events committed before the kill
DURING_OUTAGE = 15  # at least this many committed while the server is down
AFTER_OUTAGE = 40  # and this many after it is back
PUBLISH_TIMEOUT = 0.5
SETTINGS = ConsumerSettings(ack_wait_seconds=2.0, backoff_seconds=(0.1,), max_attempts=10, fetch_timeout_seconds=0.5)


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server this test may kill; the session one is shared with the other tests."""
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_nats_outage_longer_than_the_timeouts_loses_nothing_and_duplicates_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], own_nats: NatsServer
) -> None:
    relay_connection = await connect(own_nats.url, name="relay")
    consumer_connection = await connect(own_nats.url, name="consumer")
    try:
        relay_js, consumer_js = relay_connection.jetstream(), consumer_connection.jetstream()
        await ensure_stream(relay_js, PRODUCER)
        relay = OutboxRelay(sessionmaker, relay_js, poll_seconds=0.1, publish_timeout=PUBLISH_TIMEOUT)
        consumer = EventConsumer(build_registry(), sessionmaker, consumer_js, SETTINGS)
        committed: list = []
        producing = True

        async def produce() -> None:
            while producing:
                committed.append((await record_item(sessionmaker, f"item-{len(committed)}")).id)
                await asyncio.sleep(0.01)

        async with background() as tasks:
            tasks.start(relay.run(), "relay")
            tasks.start(consumer.run(), "consumer")
            producer = tasks.start(produce(), "producer")

            async def flowing() -> bool:
                return len(committed) >= BEFORE_OUTAGE and len(await effect_counts(sessionmaker)) > 0

            await wait_until(flowing, within=60, what=f"{BEFORE_OUTAGE} events committed and some applied", tasks=tasks)
            own_nats.stop(kill=True)  # a crash, not a shutdown
            at_kill = len(committed)
            publish_failures, fetch_failures = relay.stats.publish_failures, consumer.stats.fetch_failures

            async def outage_felt() -> bool:
                # Down long enough that the relay's publishes timed out and were retried, the
                # consumer's fetches failed, and events were committed meanwhile.
                return (relay.stats.publish_failures >= publish_failures + 2
                        and consumer.stats.fetch_failures >= fetch_failures + 2
                        and len(committed) >= at_kill + DURING_OUTAGE)

            await wait_until(outage_felt, within=60, what="publishes and fetches failing during the outage", tasks=tasks)
            await asyncio.to_thread(own_nats.start)  # same port, same store dir
            at_restart = len(committed)

            async def produced_after() -> bool:
                return len(committed) >= at_restart + AFTER_OUTAGE

            await wait_until(produced_after, within=60, what="events committed after the restart", tasks=tasks)
            producing = False
            await producer

            async def all_delivered() -> bool:
                rows = await outbox_rows(sessionmaker)
                return all(row.published_at is not None for row in rows) \
                    and len(await effect_counts(sessionmaker)) == len(committed) and await consumer_drained(consumer_js)

            await wait_until(all_delivered, within=90, interval=0.2, what="every event applied", tasks=tasks)

        counts = await effect_counts(sessionmaker)
        assert counts == dict.fromkeys(committed, 1)
        rows = await outbox_rows(sessionmaker)
        assert len(rows) == len(committed)
        assert max(row.attempts for row in rows) >= 2, "some event must have been published more than once"
        # JetStream's dedupe survived the crash: the relay's retries added no copies. Publishes
        # buffered by the client during the outage reached the server on reconnect, so a retry
        # was acked as a duplicate: the dedupe was exercised, not just available.
        assert await stream_messages(relay_js) == len(committed)
        assert relay.stats.duplicates >= 1, relay.stats
    finally:
        await relay_connection.close()
        await consumer_connection.close()
