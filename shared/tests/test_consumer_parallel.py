"""Events of one stream applied in several transactions at once (``ConsumerSettings.parallel_transactions``,
decisions 0315, 0319)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    PRODUCER,
    ItemRecordedV1,
    background,
    build_registry,
    consumer_drained,
    effect_counts,
    inbox_ids,
    record_item,
    wait_until,
)

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.runtime import ServiceRuntime
from homecraft_shared.settings import ServiceSettings

Maker = async_sessionmaker[AsyncSession]


async def test_a_batch_in_parts_applies_each_event_once_in_overlapping_transactions(
    sessionmaker: Maker, js: JetStreamContext, database_url: str
) -> None:
    """8 events, their stream in 4 parts: every event applied and acked once, in parts. On
    PostgreSQL the parts' handlers run at the same time (each handler waits, up to 5 s, for another one
    to be under way); SQLite has one writer, so there the parts take turns at the write lock."""
    postgres = database_url.startswith("postgresql")
    running: set[str] = set()
    overlapped: list[bool] = []
    another_running = asyncio.Event()

    async def wait_for_another(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        running.add(data.item_id)
        if len(running) > 1:
            another_running.set()
        if postgres:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(another_running.wait(), timeout=5)
            overlapped.append(another_running.is_set())
        running.discard(data.item_id)

    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(8)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 8
    consumer = EventConsumer(build_registry(hook=wait_for_another), sessionmaker, js,
                             ConsumerSettings(fetch_timeout_seconds=0.3, parallel_transactions={PRODUCER: 4}))
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 8 and await consumer_drained(js)

        await wait_until(applied, within=30, what="every event applied and acked", tasks=tasks)
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in envelopes)
    # Each fetch of n events is min(4, n) transactions: at least 4 in all, however JetStream handed them out.
    assert (consumer.stats.applied, consumer.stats.commit_failures) == (8, 0)
    assert consumer.stats.batch_transactions >= 4
    if postgres:
        assert overlapped and all(overlapped), "the parts' transactions ran one after another"


async def test_the_runtime_applies_batches_in_parts_on_postgresql_only(tmp_path: Path) -> None:
    """SQLite has one writer at a time: parts would only queue for it, so the runtime keeps batches whole there."""
    for url, expected in ((f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", {}),
                          ("postgresql+asyncpg://nobody@127.0.0.1:9/none", {"payments": 3})):
        runtime = ServiceRuntime(ServiceSettings(service_name="demo", database_url=url,
                                                 consumer_parallel_transactions={"payments": 3}), migrations=tmp_path)
        try:
            assert runtime.consumer_settings().parallel_transactions == expected, url
        finally:
            await runtime.engine.dispose()
            await runtime.group.aclose()


async def test_an_event_does_not_wait_for_a_slow_transaction_fetched_before_it(
    sessionmaker: Maker, js: JetStreamContext, database_url: str
) -> None:
    """Decision 0319: with transactions free, the consumer fetches while others are under way, so an event
    arriving behind a slow one is applied in a free transaction at once, not after the slow one commits.
    PostgreSQL only in its timing: SQLite's one writer makes the second transaction wait for the first."""
    postgres = database_url.startswith("postgresql")
    slow_running, release = asyncio.Event(), asyncio.Event()

    async def hold_the_slow_one(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        if data.item_id == "slow" and postgres:
            slow_running.set()
            await asyncio.wait_for(release.wait(), timeout=20)

    relay = OutboxRelay(sessionmaker, js)
    slow = await record_item(sessionmaker, "slow")
    assert await relay.publish_pending() == 1
    consumer = EventConsumer(build_registry(hook=hold_the_slow_one), sessionmaker, js,
                             ConsumerSettings(fetch_timeout_seconds=0.3, parallel_transactions={PRODUCER: 2}))
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")
        if postgres:
            await asyncio.wait_for(slow_running.wait(), timeout=10)
        fast = await record_item(sessionmaker, "fast")
        assert await relay.publish_pending() == 1

        async def fast_applied() -> bool:
            return fast.id in await effect_counts(sessionmaker)

        await wait_until(fast_applied, within=10, what="the later event applied beside the slow one", tasks=tasks)
        if postgres:
            assert slow.id not in await effect_counts(sessionmaker)  # still under way
        release.set()

        async def both_applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 2 and await consumer_drained(js)

        await wait_until(both_applied, within=10, what="both events applied and acked", tasks=tasks)
    assert await effect_counts(sessionmaker) == {slow.id: 1, fast.id: 1}
