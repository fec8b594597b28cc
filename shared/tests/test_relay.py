"""The outbox relay: publishes in order under the event id, retries failures, wakes on commit."""

from __future__ import annotations

import asyncio
import time
import uuid

from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import PRODUCER, STREAM, background, outbox_rows, record_item, stream_messages, wait_until

from homecraft_shared.db import utcnow
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect, ensure_stream
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing.statements import rows_per_statement

Maker = async_sessionmaker[AsyncSession]


async def test_relay_publishes_in_commit_order_under_the_event_id(sessionmaker: Maker, js: JetStreamContext) -> None:
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(5)]
    relay = OutboxRelay(sessionmaker, js, batch_size=2)
    assert [await relay.publish_pending() for _ in range(4)] == [2, 2, 1, 0]
    for seq, envelope in enumerate(envelopes, start=1):
        message = await js.get_msg(STREAM, seq=seq)
        assert message.headers["Nats-Msg-Id"] == str(envelope.id)
        assert message.subject == "test_item.recorded.v1"
        assert EventEnvelope.model_validate_json(message.data) == envelope
    rows = await outbox_rows(sessionmaker)
    assert all(row.published_at is not None and row.attempts == 1 for row in rows)


async def test_failed_publish_is_recorded_and_retried_under_the_same_id(sessionmaker: Maker, nats_url: str) -> None:
    connection = await connect(nats_url, name="relay")
    try:
        js = connection.jetstream()
        envelope = await record_item(sessionmaker, "a")
        relay = OutboxRelay(sessionmaker, js, publish_timeout=0.5)
        assert await relay.publish_pending() == 0  # no stream yet: nobody stores the subject
        [row] = await outbox_rows(sessionmaker)
        assert row.published_at is None and row.attempts == 1 and row.last_error

        await ensure_stream(js, PRODUCER)
        published: list[int] = []

        async def retried() -> bool:  # after the refused event's backoff
            published.append(await relay.publish_pending())
            return published[-1] == 1

        await wait_until(retried, within=5, interval=0.2, what="the event retried and published")
        [row] = await outbox_rows(sessionmaker)
        assert row.published_at is not None and row.attempts == 2
        assert (await js.get_msg(STREAM, seq=1)).headers["Nats-Msg-Id"] == str(envelope.id)
    finally:
        await connection.close()


async def test_a_commit_wakes_the_relay_before_its_poll_interval(sessionmaker: Maker, js: JetStreamContext) -> None:
    relay = OutboxRelay(sessionmaker, js, poll_seconds=30.0)
    async with background() as tasks:
        tasks.start(relay.run(), "relay")
        await asyncio.sleep(0.2)  # the relay has found nothing and sleeps for up to 30 s
        started = time.monotonic()
        await record_item(sessionmaker, "a")

        async def published() -> bool:
            return await stream_messages(js) == 1

        await wait_until(published, within=5, what="the event published", tasks=tasks)
    assert time.monotonic() - started < 5


async def test_an_event_jetstream_refuses_does_not_hold_up_later_events(sessionmaker: Maker, js: JetStreamContext) -> None:
    """Weakness 2: one outbox row JetStream never accepts is recorded, logged and retried later,
    while the events after it are published."""
    first = await record_item(sessionmaker, "first")
    async with sessionmaker() as session:  # an event on a subject no stream stores
        refused = OutboxEvent(event_id=uuid.uuid4(), subject="test_item.unstored.v1", payload="{}",
                              created_at=utcnow(), attempts=0)
        session.add(refused)
        await session.commit()
    last = await record_item(sessionmaker, "last")
    relay = OutboxRelay(sessionmaker, js, publish_timeout=2.0)

    assert await relay.publish_pending() == 2
    rows = {row.event_id: row for row in await outbox_rows(sessionmaker)}
    assert rows[first.id].published_at is not None and rows[last.id].published_at is not None
    assert rows[refused.event_id].published_at is None
    assert rows[refused.event_id].attempts == 1 and rows[refused.event_id].last_error
    assert (relay.stats.published, relay.stats.refused) == (2, 1)
    assert [(await js.get_msg(STREAM, seq=seq)).headers["Nats-Msg-Id"] for seq in (1, 2)] == [str(first.id), str(last.id)]

    # Backed off: the next pass does not hammer it, a later one tries again.
    assert await relay.publish_pending() == 0
    assert relay.stats.refused == 1


async def test_a_batch_is_marked_published_in_one_statement_after_its_acks(sessionmaker: Maker, js: JetStreamContext) -> None:
    """Issue 12: the relay pipelines a batch (sends every row, then awaits the acks together) and
    marks the acked rows in one UPDATE, not one per row."""
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(30)]
    with rows_per_statement(sessionmaker.kw["bind"], "UPDATE outbox_events") as updates:
        assert await OutboxRelay(sessionmaker, js).publish_pending() == 30
    assert len(updates) == 1
    rows = await outbox_rows(sessionmaker)
    assert all(row.published_at is not None and row.attempts == 1 for row in rows)
    assert [(await js.get_msg(STREAM, seq=seq)).headers["Nats-Msg-Id"] for seq in range(1, 31)] == \
        [str(e.id) for e in envelopes]


async def test_marks_go_through_the_group_commit_with_the_other_writers(sessionmaker: Maker, js: JetStreamContext,
                                                                       database_url: str) -> None:
    """Decision 0311: given a group commit (the runtime's), on SQLite the relay marks the acked rows through
    it -- committed in a batch of the group, on the group's connection, not in a transaction of its own --
    and they are marked exactly as before (published once, one attempt). On PostgreSQL it marks them in its
    own transaction, which holds them locked (FOR UPDATE SKIP LOCKED): the group's connection would wait."""
    envelopes = [await record_item(sessionmaker, f"item-{i}") for i in range(7)]
    group = GroupCommit.own_pool(database_url)
    try:
        with rows_per_statement(sessionmaker.kw["bind"], "UPDATE outbox_events") as relay_updates:
            assert await OutboxRelay(sessionmaker, js, marks=group).publish_pending() == 7
    finally:
        await group.aclose()
    sqlite = sessionmaker.kw["bind"].dialect.name == "sqlite"
    assert len(relay_updates) == (0 if sqlite else 1)  # on SQLite not on the relay's own connections
    assert group.stats.committed == (1 if sqlite else 0)  # but one member of a group batch
    rows = await outbox_rows(sessionmaker)
    assert len(rows) == 7 and all(row.published_at is not None and row.attempts == 1 for row in rows)
    assert [(await js.get_msg(STREAM, seq=seq)).headers["Nats-Msg-Id"] for seq in range(1, 8)] == \
        [str(e.id) for e in envelopes]
