"""The write-lock bound of a consumer's batch (decision 0309).

On SQLite a process has one write lock (its write queue, db.py); a consumer's batch transaction holds it
from its first write to its commit. Held for a whole 64-event batch it made every webhook's group commit
wait (issue 12: 200-600 ms tails at half load). A batch whose transaction has held it longer than
``max_write_hold_seconds`` commits after the event it is on and goes on in a new transaction, so another
writer gets in between; exactly-once (effects, inbox rows and acks) holds across the parts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    STREAM,
    ItemRecordedV1,
    build_registry,
    consumer_drained,
    dead_letters,
    effect_counts,
    inbox_ids,
    items,
    record_item,
    wait_until,
)

from homecraft_shared import db
from homecraft_shared.db import create_engine, is_sqlite
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay

Maker = async_sessionmaker[AsyncSession]
SUBJECTS = ["test_item.recorded.v1"]


async def fetched(consumer: EventConsumer, count: int) -> AsyncIterator[list[Msg]]:
    subscription = await consumer._subscribe(STREAM, SUBJECTS)
    try:
        messages: list[Msg] = []
        while len(messages) < count:
            messages += await subscription.fetch(count - len(messages), timeout=5)
        yield messages
    finally:
        await subscription.unsubscribe()


async def test_a_batch_over_the_write_hold_bound_commits_early_and_lets_another_writer_in(
    sessionmaker: Maker, js: JetStreamContext, database_url: str
) -> None:
    """Another writer of the process (here a group commit, as a webhook's intake) waiting for the write lock
    while a batch runs is committed before the batch's last event is handled, not after the whole batch;
    every event is applied once, has its inbox row and is acked."""
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(6)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 6
    order: list[str] = []
    other_engine = create_engine(database_url)
    group = GroupCommit(other_engine)
    other: list[asyncio.Task[None]] = []

    async def other_writer() -> None:
        await group.run(lambda connection: connection.execute(items.insert().values(id="other", quantity=1)))
        order.append("other writer committed")

    async def hook(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        order.append(data.item_id)
        if data.item_id == "item-0":  # the batch holds the write lock now (its first write is done)
            other.append(asyncio.create_task(other_writer()))
            await asyncio.sleep(0.05)  # the other writer is queued for the lock

    consumer = EventConsumer(build_registry(hook=hook), sessionmaker, js,
                             ConsumerSettings(ack_wait_seconds=10.0, max_write_hold_seconds=0.0))
    try:
        async for messages in fetched(consumer, 6):
            await consumer.handle_batch(messages)
        await asyncio.gather(*other)
    finally:
        await group.aclose()
        await other_engine.dispose()
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in envelopes)
    assert (consumer.stats.applied, consumer.stats.duplicates) == (6, 0)
    await wait_until(lambda: consumer_drained(js), within=5, what="every message of the batch acked")
    if is_sqlite(database_url):
        assert consumer.stats.batch_transactions == 6, "the batch was not split at the write-hold bound"
        assert order.index("other writer committed") < order.index("item-5"), order
    else:  # no process-wide write lock on PostgreSQL: one transaction, as before
        assert consumer.stats.batch_transactions == 1


async def test_a_handler_failing_after_an_early_commit_runs_the_rest_one_by_one_and_applies_everything_once(
    sessionmaker: Maker, js: JetStreamContext, database_url: str
) -> None:
    """The parts committed before a failing handler are acked and not handled again; the failing event is
    retried and the rest goes one by one: every effect once, no dead letter, no duplicate."""
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(5)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 5
    calls: dict[str, int] = {}

    async def hook(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        calls[data.item_id] = calls.get(data.item_id, 0) + 1
        if data.item_id == "item-2" and calls[data.item_id] == 1:
            raise RuntimeError("item-2 fails once")

    settings = ConsumerSettings(ack_wait_seconds=10.0, backoff_seconds=(0.05,), max_write_hold_seconds=0.0,
                                fetch_timeout_seconds=0.3)
    consumer = EventConsumer(build_registry(hook=hook), sessionmaker, js, settings)
    async for messages in fetched(consumer, 5):
        await consumer.handle_batch(messages)
    split = is_sqlite(database_url)
    # Split: item-0 and item-1 were committed alone and are not seen again; otherwise the whole batch
    # was rolled back and went one by one.
    assert calls == {"item-0": 1 if split else 2, "item-1": 1 if split else 2, "item-2": 1, "item-3": 1, "item-4": 1}
    assert consumer.stats.duplicates == 0, "an event committed before the failure was handled again"
    consumer_task = asyncio.create_task(consumer.run())
    try:
        async def applied() -> bool:
            return len(await effect_counts(sessionmaker)) == 5 and await consumer_drained(js)

        await wait_until(applied, within=15, what="the failed event retried and applied")
    finally:
        consumer_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer_task
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert calls["item-2"] == 2
    assert await dead_letters(sessionmaker) == []


def test_write_lock_held_is_zero_outside_a_write_transaction() -> None:
    assert db.write_lock_held() == 0.0
