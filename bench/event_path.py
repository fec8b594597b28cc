"""Benchmark the event path: outbox commit -> relay -> JetStream -> consumer -> committed effect.

Starts its own nats-server (file storage, fsync before ack, as in devstack) and its own databases,
runs an OutboxRelay and an EventConsumer in this process, commits N events (each with a state
change, in its own transaction, via ``record_event``) and measures, per event, the time from the
producer's commit to the consumer's committed effect. Everything it starts is stopped at the end.

    .venv/bin/python bench/event_path.py                      # 2000 events, as fast as possible
    .venv/bin/python bench/event_path.py --rate 200           # paced: latency without a backlog
    .venv/bin/python bench/event_path.py --database-url postgresql+asyncpg://user@127.0.0.1:5432/postgres

Producer and consumer have a database each, as two services would: two SQLite files in a temporary
directory by default; with ``--database-url`` (a PostgreSQL server URL whose user may create
databases) two throwaway databases on that server, dropped at the end.

Producer, relay and consumer share this one process and event loop, so flat-out throughput is
bounded by one CPU core; ``--rate`` below that shows the path's latency without a backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from homecraft_shared.db import create_engine, create_sessionmaker, is_sqlite
from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer, HandlerRegistry
from homecraft_shared.messaging.contracts import EventData, event_contract
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect, ensure_stream
from homecraft_shared.messaging.outbox import OutboxRelay, record_event
from homecraft_shared.messaging.tables import OutboxEvent, create_messaging_tables
from homecraft_shared.testing.infra import NatsServer

PRODUCER = "benchsvc"
APPLIED_KEY = "bench_applied_event_ids"


@event_contract("bench_item.recorded", 1, producer=PRODUCER, description="Benchmark only: an item was recorded.")
class BenchItemRecordedV1(EventData):
    item_id: str
    seq: int


metadata = sa.MetaData()
items = sa.Table("bench_items", metadata, sa.Column("id", sa.String(64), primary_key=True),
                 sa.Column("seq", sa.Integer, nullable=False))
effects = sa.Table("bench_effects", metadata, sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                   sa.Column("event_id", sa.Uuid, nullable=False), sa.Column("item_id", sa.String(64), nullable=False))

# perf_counter() at the producer's commit and at the consumer's commit, by event id.
committed_at: dict[uuid.UUID, float] = {}
applied_at: dict[uuid.UUID, float] = {}


def _record_applied(session: Session) -> None:
    """after_commit: the consumer's transaction (effect + inbox row) is durable now."""
    ids = session.info.pop(APPLIED_KEY, None)
    if ids:
        now = time.perf_counter()
        for event_id in ids:
            applied_at.setdefault(event_id, now)


def _forget_applied(session: Session, _transaction: Any) -> None:
    session.info.pop(APPLIED_KEY, None)


sa.event.listen(Session, "after_commit", _record_applied)
sa.event.listen(Session, "after_soft_rollback", _forget_applied)


def build_registry() -> HandlerRegistry:
    registry = HandlerRegistry("benchconsumer")

    @registry.on(BenchItemRecordedV1, reads=("item_id",))
    async def on_item_recorded(session: AsyncSession, data: EventData, envelope: EventEnvelope) -> None:
        assert isinstance(data, BenchItemRecordedV1)
        await session.execute(effects.insert().values(event_id=envelope.id, item_id=data.item_id))
        session.info.setdefault(APPLIED_KEY, []).append(envelope.id)

    return registry


def _create_schema(connection: Connection) -> None:
    create_messaging_tables(Operations(MigrationContext.configure(connection)))
    metadata.create_all(connection)


@contextlib.asynccontextmanager
async def databases(workdir: Path, server_url: str | None) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """(producer engine, consumer engine) on fresh databases, removed afterwards."""
    created: list[str] = []
    if server_url is None:
        urls = [f"sqlite+aiosqlite:///{workdir / name}.db" for name in ("producer", "consumer")]
    else:
        suffix = uuid.uuid4().hex[:8]
        names = [f"bench_producer_{suffix}", f"bench_consumer_{suffix}"]
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as connection:
                for name in names:
                    await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
                    created.append(name)
        finally:
            await admin.dispose()
        urls = [make_url(server_url).set(database=name).render_as_string(hide_password=False) for name in names]
    engines = [create_engine(url, pool_size=20) if not is_sqlite(url) else create_engine(url) for url in urls]
    try:
        for engine in engines:
            async with engine.begin() as connection:
                await connection.run_sync(_create_schema)
        yield engines[0], engines[1]
    finally:
        for engine in engines:
            await engine.dispose()
        if created:
            admin = create_engine(server_url, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
            try:
                async with admin.connect() as connection:
                    for name in created:
                        await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            finally:
                await admin.dispose()


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def run(args: argparse.Namespace, nats_url: str, workdir: Path) -> int:
    async with databases(workdir, args.database_url) as (producer_engine, consumer_engine):
        producer_db = create_sessionmaker(producer_engine)
        consumer_db = create_sessionmaker(consumer_engine)
        relay_nats = await connect(nats_url, name="bench-relay")
        consumer_nats = await connect(nats_url, name="bench-consumer")
        tasks: list[asyncio.Task[None]] = []
        try:
            await ensure_stream(relay_nats.jetstream(), PRODUCER)
            relay = OutboxRelay(producer_db, relay_nats.jetstream())
            consumer = EventConsumer(build_registry(), consumer_db, consumer_nats.jetstream(), ConsumerSettings())
            tasks = [asyncio.create_task(relay.run(), name="relay"), asyncio.create_task(consumer.run(), name="consumer")]
            await asyncio.sleep(0.5)  # let the consumer bind before the clock starts

            interval = 1.0 / args.rate if args.rate else 0.0
            started = time.perf_counter()
            for seq in range(args.events):
                if interval:
                    delay = started + seq * interval - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                item_id = f"item-{seq}"
                async with producer_db() as session:
                    await session.execute(items.insert().values(id=item_id, seq=seq))
                    envelope = record_event(session, BenchItemRecordedV1(item_id=item_id, seq=seq), subject_id=item_id)
                    await session.commit()
                committed_at[envelope.id] = time.perf_counter()
            produced = time.perf_counter()

            deadline = produced + args.timeout
            while len(applied_at) < args.events:
                for task in tasks:
                    if task.done():
                        task.result()  # a crashed loop ends the run with its error
                        raise RuntimeError(f"{task.get_name()} stopped")
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"only {len(applied_at)}/{args.events} events applied after {args.timeout}s")
                await asyncio.sleep(0.002)
            finished = max(applied_at.values())
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await relay_nats.close()
            await consumer_nats.close()

        async with consumer_db() as session:
            effect_rows = await session.scalar(sa.select(sa.func.count()).select_from(effects))
        async with producer_db() as session:
            unpublished = await session.scalar(
                sa.select(sa.func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None)))

    latencies = sorted((applied_at[event_id] - committed_at[event_id]) * 1000 for event_id in committed_at)
    database = "SQLite (two files)" if args.database_url is None else f"PostgreSQL ({make_url(args.database_url).host})"
    pacing = f"paced at {args.rate:g}/s" if args.rate else "as fast as possible"
    print(f"event path: {args.events} events, one transaction each, {pacing}; {database}; nats-server fsync always")
    print(f"  producer commits : {args.events / (produced - started):8.0f} events/s")
    print(f"  end to end       : {args.events / (finished - started):8.0f} events/s "
          f"(first commit -> last committed effect, {finished - started:.2f} s)")
    print(f"  latency (ms)     : p50 {percentile(latencies, 0.50):.2f}  p99 {percentile(latencies, 0.99):.2f}  "
          f"max {latencies[-1]:.2f}")
    print(f"  checks           : {effect_rows} effect rows for {args.events} events, {unpublished} unpublished outbox rows")
    return 0 if effect_rows == args.events and unpublished == 0 else 1


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000, help="events to commit (default 2000)")
    parser.add_argument("--rate", type=float, default=0.0, help="pace the producer at this many events/s (default: flat out)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (postgresql+asyncpg://...); default: SQLite files")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the last effect after producing")
    args = parser.parse_args()
    if args.events < 1:
        parser.error("--events must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Closing the connections at the end logs "nats disconnected"; that is not news here.
    logging.getLogger("homecraft_shared.messaging.jetstream").setLevel(logging.ERROR)

    # A SIGTERM stops the run like Ctrl-C does, so the cleanup below still happens.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background with SIGINT ignored
    with tempfile.TemporaryDirectory(prefix="homecraft-bench-") as tmp:
        workdir = Path(tmp)
        server = NatsServer(workdir / "nats", log_file=workdir / "nats.log")
        server.start()
        try:
            return asyncio.run(run(args, server.url, workdir))
        finally:
            server.stop()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; everything started was stopped", file=sys.stderr)
        sys.exit(130)
