"""A test-only service for the delivery proofs: one event contract, a state table and an effects table.

Imported by the tests and by the crash scripts the tests run as subprocesses (both live in this
directory, so it is a plain top-level import in either case). Importing it registers the contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import create_engine
from homecraft_shared.messaging.consumer import ConsumerSettings, HandlerRegistry
from homecraft_shared.messaging.contracts import EventData, event_contract
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import stream_name
from homecraft_shared.messaging.outbox import record_event
from homecraft_shared.messaging.tables import DeadLetter, InboxEvent, OutboxEvent, create_messaging_tables

HERE = Path(__file__).resolve().parent
PRODUCER = "testsvc"
CONSUMER = "testconsumer"
STREAM = stream_name(PRODUCER)

# What the crash tests' subprocess and in-process consumers both use: identical, so the durable's
# config does not change between them; a short ack_wait so a lost delivery comes back quickly.
CRASH_CONSUMER_SETTINGS = ConsumerSettings(max_attempts=5, ack_wait_seconds=1.0, backoff_seconds=(0.1,))
# The replica processes of test_replicas.py: kills count as attempts, so allow many before a dead letter.
# Pull requests expire well before the ack wait, so a redelivery goes to a replica that is fetching.
REPLICA_CONSUMER_SETTINGS = ConsumerSettings(max_attempts=30, ack_wait_seconds=1.5, backoff_seconds=(0.1,),
                                             fetch_batch=16, fetch_timeout_seconds=0.5)


@event_contract("test_item.recorded", 1, producer=PRODUCER, description="Test only: an item was recorded.")
class ItemRecordedV1(EventData):
    item_id: str
    quantity: int


metadata = sa.MetaData()

items = sa.Table(
    "test_items",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
)

# Deliberately no unique constraint on event_id: an effect applied twice must show up as two rows.
effects = sa.Table(
    "test_effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.Uuid, nullable=False),
    sa.Column("item_id", sa.String(64), nullable=False),
)


def _create_schema(connection: Connection) -> None:
    # The same DDL every service's first migration runs, then the test service's own tables.
    create_messaging_tables(Operations(MigrationContext.configure(connection)))
    metadata.create_all(connection)


async def create_schema(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_create_schema)
    finally:
        await engine.dispose()


async def record_item(sessionmaker: async_sessionmaker[AsyncSession], item_id: str, quantity: int = 1) -> EventEnvelope:
    """The producer's use case: a state change and its event in one transaction."""
    async with sessionmaker() as session:
        await session.execute(items.insert().values(id=item_id, quantity=quantity))
        envelope = record_event(session, ItemRecordedV1(item_id=item_id, quantity=quantity), subject_id=item_id)
        await session.commit()
    return envelope


Hook = Callable[[AsyncSession, ItemRecordedV1, EventEnvelope], Awaitable[None]]


def build_registry(consumer: str = CONSUMER, *, hook: Hook | None = None) -> HandlerRegistry:
    """The consumer side: each test_item.recorded writes one effect row, then runs ``hook``."""
    registry = HandlerRegistry(consumer)

    @registry.on(ItemRecordedV1, reads=("item_id",))
    async def on_item_recorded(session: AsyncSession, data: EventData, envelope: EventEnvelope) -> None:
        assert isinstance(data, ItemRecordedV1)
        await session.execute(effects.insert().values(event_id=envelope.id, item_id=data.item_id))
        if hook is not None:
            await hook(session, data, envelope)

    return registry


async def effect_counts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[uuid.UUID, int]:
    async with sessionmaker() as session:
        rows = await session.execute(sa.select(effects.c.event_id, sa.func.count()).group_by(effects.c.event_id))
        return {event_id: count for event_id, count in rows.all()}


async def count_rows(sessionmaker: async_sessionmaker[AsyncSession], table: Any) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> list[OutboxEvent]:
    async with sessionmaker() as session:
        return list((await session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.seq))).all())


async def inbox_ids(sessionmaker: async_sessionmaker[AsyncSession], consumer: str = CONSUMER) -> list[uuid.UUID]:
    async with sessionmaker() as session:
        return list((await session.scalars(sa.select(InboxEvent.event_id).where(InboxEvent.consumer == consumer))).all())


async def dead_letters(sessionmaker: async_sessionmaker[AsyncSession]) -> list[DeadLetter]:
    async with sessionmaker() as session:
        return list((await session.scalars(sa.select(DeadLetter).order_by(DeadLetter.id))).all())


async def stream_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(STREAM)).state.messages)


async def consumer_drained(js: JetStreamContext, durable: str = CONSUMER) -> bool:
    """Everything in the stream was delivered to the durable and acked (or terminated)."""
    try:
        info = await js.consumer_info(STREAM, durable)
    except NotFoundError:  # not created yet
        return False
    return info.num_pending == 0 and info.num_ack_pending == 0 and info.num_redelivered == 0


class Background:
    """Runs loops (relay, consumer, producer) as tasks; a loop that crashes fails the test at once."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[Any]] = []

    def start(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self.tasks.append(task)
        return task

    def check(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"background task {task.get_name()} crashed") from task.exception()

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


@contextlib.asynccontextmanager
async def background() -> AsyncIterator[Background]:
    runner = Background()
    try:
        yield runner
        runner.check()
    finally:
        await runner.stop()


async def wait_until(
    predicate: Callable[[], Awaitable[bool]],
    *,
    within: float,
    what: str,
    interval: float = 0.05,
    tasks: Background | None = None,
) -> None:
    deadline = time.monotonic() + within
    while True:
        if tasks is not None:
            tasks.check()
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for: {what}")
        await asyncio.sleep(interval)


class Script:
    """One of the scripts in this directory running as a subprocess, its output collected in a file."""

    def __init__(self, script: str, *args: str, log: Path) -> None:
        self.script, self.args, self.log = script, args, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> Script:
        with self.log.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, str(HERE / self.script), *self.args, stdout=output, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


async def run_script(script: str, *args: str, within: float = 60.0) -> tuple[int, str]:
    """Run one of the crash scripts in this directory; returns (returncode, combined output)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / script), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=within)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        raise AssertionError(f"{script} did not finish in {within}s:\n{output.decode(errors='replace')}") from None
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")
