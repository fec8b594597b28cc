"""Eager publishing (decision 0323): an event is published right after the commit that holds its outbox row,
by the process that committed it, without waiting for a relay pass; the relay publishes what that missed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import PRODUCER, STREAM, Background, ItemRecordedV1, background, items, outbox_rows, record_item, wait_until

from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect, ensure_stream
from homecraft_shared.messaging.outbox import EagerPublisher, OutboxRelay, record_event, stage_event
from homecraft_shared.messaging.tables import OutboxEvent

Maker = async_sessionmaker[AsyncSession]


@pytest.fixture
async def group(database_url: str) -> AsyncIterator[GroupCommit]:
    group = GroupCommit.own_pool(database_url)
    try:
        yield group
    finally:
        await group.aclose()


@contextlib.asynccontextmanager
async def running(publisher: EagerPublisher) -> AsyncIterator[Background]:
    """The publisher running as a background task, registered for the commits that follow."""
    async with background() as tasks:
        tasks.start(publisher.run(), "eager-publisher")
        await asyncio.sleep(0)
        yield tasks


async def all_marked(sessionmaker: Maker) -> bool:
    return all(row.published_at is not None for row in await outbox_rows(sessionmaker))


async def published_ids(js: JetStreamContext) -> list[str]:
    """The event ids in the stream, in stream order."""
    count = (await js.stream_info(STREAM)).state.messages
    return [(await js.get_msg(STREAM, seq=seq)).headers["Nats-Msg-Id"] for seq in range(1, count + 1)]


async def test_a_committed_event_is_published_and_marked_with_no_relay(
        sessionmaker: Maker, js: JetStreamContext, group: GroupCommit) -> None:
    publisher = EagerPublisher(group.database, js, group)
    async with running(publisher) as tasks:
        envelope = await record_item(sessionmaker, "a")
        await wait_until(lambda: all_marked(sessionmaker), within=10, what="the row marked published", tasks=tasks)
    assert await published_ids(js) == [str(envelope.id)]
    message = await js.get_msg(STREAM, seq=1)
    assert message.subject == "test_item.recorded.v1"
    assert EventEnvelope.model_validate_json(message.data) == envelope
    [row] = await outbox_rows(sessionmaker)
    assert row.attempts == 1 and row.last_error is None
    assert publisher.stats.published == 1


async def test_events_staged_until_the_commit_are_published_too(
        sessionmaker: Maker, js: JetStreamContext, group: GroupCommit) -> None:
    publisher = EagerPublisher(group.database, js, group)
    async with running(publisher) as tasks:
        async with sessionmaker() as session:
            staged = [await stage_event(session, ItemRecordedV1(item_id=f"s{i}", quantity=1), subject_id=f"s{i}")
                      for i in range(3)]
            await session.commit()

        async def all_published() -> bool:
            return len(await published_ids(js)) == 3

        await wait_until(all_published, within=10, what="the staged events published", tasks=tasks)
    assert sorted(await published_ids(js)) == sorted(str(envelope.id) for envelope in staged)


async def test_a_rolled_back_transaction_publishes_nothing(
        sessionmaker: Maker, js: JetStreamContext, group: GroupCommit) -> None:
    publisher = EagerPublisher(group.database, js, group)
    async with running(publisher) as tasks:
        async with sessionmaker() as session:
            await session.execute(items.insert().values(id="gone", quantity=1))
            record_event(session, ItemRecordedV1(item_id="gone", quantity=1), subject_id="gone")
            await session.rollback()
        # Published in commit order: once the next commit's event is in the stream, an earlier one would be too.
        fence = await record_item(sessionmaker, "fence")

        async def fence_published() -> bool:
            return str(fence.id) in await published_ids(js)

        await wait_until(fence_published, within=10, what="the next event published", tasks=tasks)
    assert await published_ids(js) == [str(fence.id)]


async def test_a_rolled_back_savepoint_leaves_its_transaction_to_the_relay(
        sessionmaker: Maker, js: JetStreamContext, group: GroupCommit) -> None:
    """Which rows went with the savepoint is not tracked: none of the transaction is published eagerly (the
    savepoint's event must never be), and the relay publishes what committed."""
    publisher = EagerPublisher(group.database, js, group)
    async with running(publisher) as tasks:
        async with sessionmaker() as session:
            kept = record_event(session, ItemRecordedV1(item_id="kept", quantity=1), subject_id="kept")
            savepoint = await session.begin_nested()
            record_event(session, ItemRecordedV1(item_id="undone", quantity=1), subject_id="undone")
            await session.flush()
            await savepoint.rollback()
            await session.commit()
        fence = await record_item(sessionmaker, "fence")

        async def fence_marked() -> bool:
            return any(row.event_id == fence.id and row.published_at for row in await outbox_rows(sessionmaker))

        await wait_until(fence_marked, within=10, what="the next event published and marked", tasks=tasks)
        assert await published_ids(js) == [str(fence.id)]
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1
    assert await published_ids(js) == [str(fence.id), str(kept.id)]


async def test_what_nats_did_not_take_the_relay_publishes_after_its_grace(
        sessionmaker: Maker, nats_url: str, group: GroupCommit) -> None:
    connection = await connect(nats_url, name="eager")
    try:
        js = connection.jetstream()
        publisher = EagerPublisher(group.database, js, group, publish_timeout=0.5)
        relay = OutboxRelay(sessionmaker, js, grace_seconds=1.0)
        async with running(publisher) as tasks:
            envelope = await record_item(sessionmaker, "a")  # no stream yet: nobody stores the subject

            async def refused() -> bool:
                return publisher.stats.publish_failures == 1

            await wait_until(refused, within=10, what="the eager publish refused", tasks=tasks)
        [row] = await outbox_rows(sessionmaker)
        assert row.published_at is None

        await ensure_stream(js, PRODUCER)
        assert await relay.publish_pending() == 0  # younger than the grace: the eager publisher's to publish

        async def relayed() -> bool:
            return await relay.publish_pending() == 1

        await wait_until(relayed, within=10, interval=0.2, what="the relay published the row after its grace")
        assert await published_ids(js) == [str(envelope.id)]
        [row] = await outbox_rows(sessionmaker)
        assert row.published_at is not None
    finally:
        await connection.close()


async def test_a_commit_on_another_database_is_not_handed_to_this_publisher(
        sessionmaker: Maker, js: JetStreamContext, tmp_path: Path) -> None:
    other = GroupCommit.own_pool(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    try:
        publisher = EagerPublisher(other.database, js, other)
        async with running(publisher):
            await record_item(sessionmaker, "a")
            await asyncio.sleep(0.2)
        assert publisher.stats.published == publisher.stats.publish_failures == 0
        assert await published_ids(js) == []
    finally:
        await other.aclose()


async def test_an_event_both_publish_is_stored_once(sessionmaker: Maker, js: JetStreamContext, group: GroupCommit) -> None:
    """The eager publisher's marking can lag past the relay's grace: the relay then publishes the row again,
    under the same id, and JetStream keeps one copy."""
    publisher = EagerPublisher(group.database, js, group)
    async with running(publisher) as tasks:
        envelope = await record_item(sessionmaker, "a")
        await wait_until(lambda: all_marked(sessionmaker), within=10, what="the row marked published", tasks=tasks)
    async with sessionmaker() as session:  # as if the marking had not happened yet
        await session.execute(update(OutboxEvent).values(published_at=None))
        await session.commit()
    relay = OutboxRelay(sessionmaker, js)
    assert await relay.publish_pending() == 1
    assert relay.stats.duplicates == 1
    assert await published_ids(js) == [str(envelope.id)]
