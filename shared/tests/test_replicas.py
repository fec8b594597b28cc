"""Proof (f): consumer replicas are separate processes sharing one durable consumer. A real race on
one event (one replica stalls with the effect written while JetStream redelivers the event to the
other) applies it once; three replicas SIGKILLed and restarted at random apply every event once."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import (
    CONSUMER,
    STREAM,
    Script,
    consumer_drained,
    dead_letters,
    effect_counts,
    inbox_ids,
    record_item,
    wait_until,
)

from homecraft_shared.messaging.outbox import OutboxRelay

Maker = async_sessionmaker[AsyncSession]


class Replicas:
    def __init__(self, database_url: str, nats_url: str, logs: Path, *extra: str) -> None:
        self.args = (database_url, nats_url, *extra)
        self.logs = logs
        self.started: list[Script] = []

    async def start(self) -> Script:
        script = await Script("consumer_replica.py", *self.args, log=self.logs / f"replica-{len(self.started)}.log").start()
        self.started.append(script)
        return script

    def output(self) -> str:
        return "\n".join(script.output() for script in self.started)

    def consuming(self, script: Script) -> bool:
        return "consuming" in script.output()

    async def stop(self) -> None:
        for script in self.started:
            await script.kill()


@pytest.fixture
async def replicas(database_url: str, nats_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    group = Replicas(database_url, nats_url, tmp_path, "race", str(tmp_path / "stalled"))
    try:
        yield group
    finally:
        await group.stop()


async def test_two_replica_processes_racing_on_one_event_apply_it_once(
    sessionmaker: Maker, js: JetStreamContext, replicas: Replicas, database_url: str
) -> None:
    first, second = await replicas.start(), await replicas.start()

    async def both_consuming() -> bool:
        return replicas.consuming(first) and replicas.consuming(second)

    await wait_until(both_consuming, within=60, what="two replicas consuming")
    # The race event alone first: whichever replica fetches it stalls holding it uncommitted, and
    # the other one, idle, gets it redelivered after the ack wait. Then more events flow.
    envelopes = [await record_item(sessionmaker, "race")]
    relay = OutboxRelay(sessionmaker, js)
    assert await relay.publish_pending() == 1

    async def stalled() -> bool:
        return "stalling on race" in replicas.output()

    await wait_until(stalled, within=30, what="a replica stalling on the race event")
    envelopes += [await record_item(sessionmaker, f"item-{i}") for i in range(12)]
    assert await relay.publish_pending() == 12

    def race_handlers() -> set[str]:
        return set(re.findall(r"^(\d+) handling race$", replicas.output(), re.MULTILINE))

    def loser_recognised_it() -> bool:  # the second replica's outcome, logged after its handler ran
        output = replicas.output()
        return "event already applied by another replica" in output or "duplicate event ignored" in output

    async def settled() -> bool:
        return len(race_handlers()) == 2 and loser_recognised_it() \
            and len(await effect_counts(sessionmaker)) == len(envelopes) and await consumer_drained(js)

    await wait_until(settled, within=60, interval=0.2, what="both replicas handled the race event, all applied")
    await replicas.stop()
    output = replicas.output()
    assert "stalling on race" in output
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}, output
    assert sorted(await inbox_ids(sessionmaker)) == sorted(e.id for e in envelopes)
    assert await dead_letters(sessionmaker) == []
    if database_url.startswith("postgresql"):
        # One replica's inbox row collided with the other's committed one: the real race path.
        assert "by another replica" in output, output
    info = await js.consumer_info(STREAM, CONSUMER)
    assert info.delivered.consumer_seq > len(envelopes)


EVENTS = 240
KILLS = 6


async def test_three_replicas_killed_at_random_apply_every_event_once(
    sessionmaker: Maker, js: JetStreamContext, replicas: Replicas, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the three-replica kill run is a PostgreSQL proof (SQLite serialises the replicas' writes)")
    running = [await replicas.start() for _ in range(3)]

    async def all_consuming() -> bool:
        return all(replicas.consuming(script) for script in running)

    await wait_until(all_consuming, within=60, what="three replicas consuming")
    relay = OutboxRelay(sessionmaker, js)
    rng = random.Random(8)
    envelopes = []
    kills_mid_flow = 0
    # Events arrive in waves, one before each kill, so a kill always lands while events are flowing
    # however fast the machine applies them (one burst finished before the first kill on a quiet one).
    for _ in range(KILLS):
        envelopes += [await record_item(sessionmaker, f"item-{len(envelopes) + i}") for i in range(EVENTS // KILLS)]
        while await relay.publish_pending():
            pass
        await asyncio.sleep(rng.uniform(0.0, 0.05))
        applied = len(await effect_counts(sessionmaker))
        kills_mid_flow += applied < len(envelopes)
        victim = rng.randrange(3)
        await running[victim].kill()
        running[victim] = await replicas.start()

    async def settled() -> bool:
        return len(await effect_counts(sessionmaker)) == EVENTS and await consumer_drained(js)

    await wait_until(settled, within=120, interval=0.3, what=f"all {EVENTS} events applied")
    await replicas.stop()
    assert kills_mid_flow >= 2, "the kills must hit replicas while events were flowing"
    assert await effect_counts(sessionmaker) == {e.id: 1 for e in envelopes}
    assert len(await inbox_ids(sessionmaker)) == EVENTS
    assert await dead_letters(sessionmaker) == []
