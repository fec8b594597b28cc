"""Proof (c): a consumer killed mid-handler, at the commit (every handler of the transaction ran) or
right after the commit (before the acks) gets its events again, and every effect happens exactly
once; also when a poison event in the batch sends it down the one-by-one path."""

from __future__ import annotations

import signal

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    CONSUMER,
    CRASH_CONSUMER_SETTINGS,
    STREAM,
    ItemRecordedV1,
    background,
    build_registry,
    consumer_drained,
    dead_letters,
    effect_counts,
    inbox_ids,
    record_item,
    run_script,
    wait_until,
)

from homecraft_shared.messaging.consumer import EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.outbox import OutboxRelay

EVENTS = 5

# (where it dies, on which call/commit, poison position or None, effects committed before the kill,
#  of those, how many were never acked: they must come back and be recognised as duplicates)
CASES = {
    "mid-handler": ("handler", 3, None, 0, 0),
    "at-batch-commit": ("commit", 1, None, 0, 0),
    "after-batch-commit": ("after-commit", 1, None, EVENTS, EVENTS),
    # The poison event sends the batch one by one; it dies at / after the first or second commit there.
    "at-one-by-one-commit": ("commit", 1, 2, 0, 0),
    "after-one-by-one-commit": ("after-commit", 2, 0, 2, 1),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_consumer_killed_applies_every_event_exactly_once(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, database_url: str, nats_url: str,
    case: str,
) -> None:
    mode, n, poison_at, committed_before_kill, unacked_committed = CASES[case]
    names = [f"item-{i}" for i in range(EVENTS)]
    if poison_at is not None:
        names[poison_at] = "poison"
    envelopes = {name: await record_item(sessionmaker, name) for name in names}
    poison = envelopes.pop("poison", None)
    healthy = list(envelopes.values())
    assert await OutboxRelay(sessionmaker, js).publish_pending() == EVENTS

    args = [database_url, nats_url, mode, str(n)] + (["poison"] if poison else [])
    code, output = await run_script("consumer_crash.py", *args)
    assert code == -signal.SIGKILL, f"the consumer should have been killed ({case}):\n{output}"
    assert "dying" in output
    # Nothing of the dying transaction survived, and everything committed before it did.
    assert len(await effect_counts(sessionmaker)) == committed_before_kill, output

    async def fail_poison(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        if data.item_id == "poison":
            raise RuntimeError("poison")

    consumer = EventConsumer(build_registry(hook=fail_poison), sessionmaker, js, CRASH_CONSUMER_SETTINGS)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def settled() -> bool:  # every message acked or terminated: nothing will come again
            return await consumer_drained(js)

        await wait_until(settled, within=30, what="the consumer drained", tasks=tasks)

    assert await effect_counts(sessionmaker) == {e.id: 1 for e in healthy}
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in healthy)
    assert [letter.event_id for letter in await dead_letters(sessionmaker)] == ([poison.id] if poison else [])
    # What was committed before the kill came again and was recognised, not applied again.
    assert consumer.stats.duplicates == unacked_committed
    info = await js.consumer_info(STREAM, CONSUMER)
    assert info.delivered.stream_seq == EVENTS
    assert info.delivered.consumer_seq > EVENTS  # redelivered after the kill
