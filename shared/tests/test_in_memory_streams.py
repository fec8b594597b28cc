"""Decision 0327: a contract ``held_in_memory`` travels on a stream of its producer held in memory by NATS (no
fsync before the ack), beside the producer's stream on disk; the producer creates that stream again when NATS
lost it (a restart), and the consumers take it up again by themselves. Decision 0328: such an event may be
published with no outbox row at all."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import CONSUMER, background, effects, outbox_rows, wait_until

from homecraft_shared.db import utcnow
from homecraft_shared.group_commit import GroupCommit
from homecraft_shared.messaging.consumer import (
    MAX_FETCH_FAILURES,
    ConsumedStream,
    ConsumerSettings,
    EventConsumer,
    HandlerRegistry,
)
from homecraft_shared.messaging.contracts import EventData, event_contract
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import (
    ensure_stream,
    keep_in_memory_streams,
    stream_name,
)
from homecraft_shared.messaging.outbox import (
    EagerPublisher,
    envelope_for,
    outbox_row,
    publish_again,
    publish_unrecorded,
    record_event,
)
from homecraft_shared.messaging.tables import OutboxEvent

PRODUCER = "memsvc"
ON_DISK = stream_name(PRODUCER)
IN_MEMORY = stream_name(PRODUCER, in_memory=True)


@event_contract("test_record.kept", 1, producer=PRODUCER, description="Test only: kept on disk.")
class RecordKeptV1(EventData):
    item_id: str


@event_contract("test_nudge.sent", 1, producer=PRODUCER, held_in_memory=True,
                description="Test only: held in memory (its producer could send it again).")
class NudgeSentV1(EventData):
    item_id: str


def nudge_registry() -> HandlerRegistry:
    registry = HandlerRegistry(CONSUMER)

    @registry.on(NudgeSentV1, reads=("item_id",))
    async def on_nudge(session: AsyncSession, data: EventData, envelope: EventEnvelope) -> None:
        assert isinstance(data, NudgeSentV1)
        await session.execute(effects.insert().values(event_id=envelope.id, item_id=data.item_id))

    return registry


async def publish_nudge(js: JetStreamContext, item_id: str) -> uuid.UUID:
    envelope = envelope_for(NudgeSentV1(item_id=item_id), subject_id=item_id)
    await js.publish(envelope.subject, envelope.model_dump_json().encode(), headers={"Nats-Msg-Id": str(envelope.id)})
    return envelope.id


async def applied(sessionmaker: async_sessionmaker[AsyncSession]) -> set[str]:
    async with sessionmaker() as session:
        return set((await session.scalars(sa.select(effects.c.item_id))).all())


async def test_a_contract_held_in_memory_gets_a_stream_in_memory_beside_the_one_on_disk(js: JetStreamContext) -> None:
    await ensure_stream(js, PRODUCER)
    on_disk, in_memory = await js.stream_info(ON_DISK), await js.stream_info(IN_MEMORY)
    assert (on_disk.config.storage, on_disk.config.subjects) == (StorageType.FILE, ["test_record.kept.v1"])
    assert (in_memory.config.storage, in_memory.config.subjects) == (StorageType.MEMORY, ["test_nudge.sent.v1"])
    assert in_memory.config.max_bytes and in_memory.config.max_bytes > 0
    await ensure_stream(js, PRODUCER)  # as wanted already: nothing changes, nothing fails
    assert (await js.stream_info(IN_MEMORY)).config.subjects == ["test_nudge.sent.v1"]
    assert nudge_registry().streams() == [ConsumedStream(PRODUCER, IN_MEMORY, ["test_nudge.sent.v1"])]


async def test_a_subject_moved_into_memory_leaves_the_stream_on_disk(js: JetStreamContext) -> None:
    """A deployment from before the contract was held in memory: its stream on disk holds the subject, and the
    consumer's durable there reads it."""
    await js.add_stream(StreamConfig(name=ON_DISK, subjects=["test_nudge.sent.v1", "test_record.kept.v1"],
                                     duplicate_window=60))
    await js.add_consumer(ON_DISK, ConsumerConfig(durable_name=CONSUMER, filter_subjects=["test_nudge.sent.v1"],
                                                  ack_policy=AckPolicy.EXPLICIT))
    await ensure_stream(js, PRODUCER)
    assert (await js.stream_info(ON_DISK)).config.subjects == ["test_record.kept.v1"]
    assert (await js.stream_info(IN_MEMORY)).config.subjects == ["test_nudge.sent.v1"]


async def test_a_stream_in_memory_that_nats_lost_is_created_again_and_consumed_again(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext
) -> None:
    await ensure_stream(js, PRODUCER)
    consumer = EventConsumer(nudge_registry(), sessionmaker, js,
                             ConsumerSettings(ack_wait_seconds=2.0, backoff_seconds=(0.1,), fetch_timeout_seconds=0.2))
    async with background() as tasks:
        tasks.start(keep_in_memory_streams(js, PRODUCER, check_seconds=0.1), "keeper")
        tasks.start(consumer.run(), "consumer")
        await publish_nudge(js, "before")

        async def has(item: str) -> bool:
            return item in await applied(sessionmaker)

        await wait_until(lambda: has("before"), within=15, what="the first nudge applied", tasks=tasks)

        await js.delete_stream(IN_MEMORY)  # what a restart of NATS does to it

        async def recreated() -> bool:
            try:
                return (await js.stream_info(IN_MEMORY)).config.storage == StorageType.MEMORY
            except Exception:
                return False

        await wait_until(recreated, within=10, what="the stream created again", tasks=tasks)
        await publish_nudge(js, "after")
        await wait_until(lambda: has("after"), within=30, what="a nudge after the loss applied", tasks=tasks)
    assert await applied(sessionmaker) == {"before", "after"}
    # Set up again as soon as NATS said the durable was gone, not after a run of failed fetches.
    assert consumer.stats.fetch_failures < MAX_FETCH_FAILURES


async def test_an_event_held_in_memory_is_published_with_no_outbox_row_and_nothing_marked(
        js: JetStreamContext, database_url: str, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Decision 0328: ``publish_unrecorded`` hands the event to the eager publisher, which publishes it under its id
    and has nothing to mark: the one group-commit batch is the marking of an event recorded after it. An event
    kept on disk is refused (it needs its outbox row)."""
    await ensure_stream(js, PRODUCER)
    group = GroupCommit.own_pool(database_url)
    try:
        with pytest.raises(ValueError, match="kept on disk"):
            publish_unrecorded(group.database, [envelope_for(RecordKeptV1(item_id="a"), subject_id="a")])
        publisher = EagerPublisher(group.database, js, group)
        async with background() as tasks:
            tasks.start(publisher.run(), "eager-publisher")
            await asyncio.sleep(0)  # registered for this database
            nudge = envelope_for(NudgeSentV1(item_id="n"), subject_id="n")
            publish_unrecorded(group.database, [nudge])

            async def published() -> bool:
                return publisher.stats.published == 1

            await wait_until(published, within=10, what="the nudge published", tasks=tasks)
            async with sessionmaker() as session:
                record_event(session, RecordKeptV1(item_id="r"), subject_id="r")
                await session.commit()

            async def recorded_marked() -> bool:
                return all(row.published_at is not None for row in await outbox_rows(sessionmaker))

            await wait_until(recorded_marked, within=10, what="the recorded event marked", tasks=tasks)
        message = await js.get_msg(IN_MEMORY, seq=1)
        assert message.headers is not None and message.headers["Nats-Msg-Id"] == str(nudge.id)
        assert EventEnvelope.model_validate_json(message.data or b"").id == nudge.id
        assert group.stats.batches == 1  # the recorded event's marking only
    finally:
        await group.aclose()


async def test_publish_again_writes_a_missing_row_once_and_marks_an_existing_one_unpublished(
        sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Decision 0328: the events a producer sends again have a row (marked unpublished) or none (written), and
    a second producer replica doing the same afterwards neither fails nor writes a second row."""
    kept = envelope_for(NudgeSentV1(item_id="kept"), subject_id="kept")
    missing = envelope_for(NudgeSentV1(item_id="missing"), subject_id="missing")
    async with sessionmaker() as session:
        session.add(OutboxEvent(**outbox_row(kept), published_at=utcnow()))
        await session.commit()
    for _replica in range(2):
        async with sessionmaker() as session:
            await publish_again(await session.connection(), [kept, missing])
            await session.commit()
    rows = {row.event_id: row for row in await outbox_rows(sessionmaker)}
    assert sorted(rows) == sorted([kept.id, missing.id])
    assert [rows[kept.id].published_at, rows[missing.id].published_at] == [None, None]
    assert EventEnvelope.model_validate_json(rows[missing.id].payload) == missing
