"""Proof (d): killing nats-server (SIGKILL) and restarting it on the same port and store while
events flow loses no acked event and applies none twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import PRODUCER, background, build_registry, effect_counts, outbox_rows, record_item, stream_messages, wait_until

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.jetstream import connect, ensure_stream
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.testing.infra import NatsServer

EVENTS = 200
RESTART_AFTER = 100


@pytest.fixture
def own_nats(tmp_path: Path) -> Iterator[NatsServer]:
    """A server this test may kill; the session one is shared with the other tests."""
    server = NatsServer(tmp_path / "nats", log_file=tmp_path / "nats.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_nats_restart_mid_stream_loses_nothing_and_duplicates_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], own_nats: NatsServer
) -> None:
    relay_connection = await connect(own_nats.url, name="relay")
    consumer_connection = await connect(own_nats.url, name="consumer")
    try:
        relay_js, consumer_js = relay_connection.jetstream(), consumer_connection.jetstream()
        await ensure_stream(relay_js, PRODUCER)
        relay = OutboxRelay(sessionmaker, relay_js, poll_seconds=0.1, publish_timeout=2.0)
        consumer = EventConsumer(
            build_registry(), sessionmaker, consumer_js,
            ConsumerSettings(ack_wait_seconds=2.0, backoff_seconds=(0.1,), max_attempts=10),
        )
        committed: list = []

        async def produce() -> None:
            for i in range(EVENTS):
                committed.append((await record_item(sessionmaker, f"item-{i}")).id)
                await asyncio.sleep(0.015)  # >= 3 s of events: before, during and after the outage

        async with background() as tasks:
            tasks.start(relay.run(), "relay")
            tasks.start(consumer.run(), "consumer")
            producer = tasks.start(produce(), "producer")

            async def halfway() -> bool:
                return len(committed) >= RESTART_AFTER and len(await effect_counts(sessionmaker)) > 0

            await wait_until(halfway, within=30, what=f"{RESTART_AFTER} events committed", tasks=tasks)
            own_nats.stop(kill=True)  # a crash, not a shutdown
            committed_at_kill = len(committed)
            await asyncio.sleep(1.0)  # down long enough for publishes and fetches to fail
            await asyncio.to_thread(own_nats.start)  # same port, same store dir
            assert committed_at_kill < len(committed) < EVENTS, "events must be committed during and after the outage"

            async def all_delivered() -> bool:
                if not producer.done():
                    return False
                rows = await outbox_rows(sessionmaker)
                return all(row.published_at is not None for row in rows) and len(await effect_counts(sessionmaker)) == EVENTS

            await wait_until(all_delivered, within=60, interval=0.2, what=f"all {EVENTS} events applied", tasks=tasks)
            await asyncio.sleep(2.5)  # past ack_wait: any redelivery still in flight lands in the inbox

        counts = await effect_counts(sessionmaker)
        assert counts == dict.fromkeys(committed, 1)
        assert len(await outbox_rows(sessionmaker)) == EVENTS
        # JetStream's dedupe survived the crash: the relay's retries added no copies.
        assert await stream_messages(relay_js) == EVENTS
    finally:
        await relay_connection.close()
        await consumer_connection.close()
