"""Run by test_consumer_crash.py as a subprocess: a consumer that dies (SIGKILL) at a chosen point.

usage: python consumer_crash.py DATABASE_URL NATS_URL MODE N [POISON_ITEM]

MODE is where it dies:
  handler       in the middle of its N-th handler call, effect written, before the commit;
  commit        at the N-th commit of an event transaction, after every handler of it ran (anything
                the process sent before, e.g. an ack issued too early, is given time to leave);
  after-commit  right after the N-th commit of an event transaction, before any ack.
POISON_ITEM names an item whose handler always fails, so the batch holding it is handled one by one.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import CRASH_CONSUMER_SETTINGS, ItemRecordedV1, build_registry

from homecraft_shared.db import create_engine
from homecraft_shared.messaging.consumer import EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect
from homecraft_shared.messaging.tables import InboxEvent


def die(message: str) -> None:
    print(message, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


async def main(database_url: str, nats_url: str, mode: str, n: int, poison: str | None) -> None:
    calls = commits = 0

    async def hook(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        if mode == "handler" and calls == n:
            await session.flush()  # the effect row is written in the open transaction
            die(f"handling {data.item_id}: effect written, dying before commit")
        if data.item_id == poison:
            raise RuntimeError("poison")

    engine = create_engine(database_url)
    inbox_table = InboxEvent.__tablename__

    # An event transaction is one that wrote inbox rows, however they were written (the unit of work
    # one by one, one INSERT for a batch: decision 0307); counted per connection, forgotten at rollback.
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def note_inbox_rows(connection: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                        executemany: bool) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {inbox_table.upper()}"):
            connection.info["inbox"] = connection.info.get("inbox", 0) + (len(parameters) if executemany else 1)

    @event.listens_for(engine.sync_engine, "rollback")
    def forget_inbox_rows(connection: Any) -> None:
        connection.info.pop("inbox", None)

    class DyingSession(AsyncSession):
        async def commit(self) -> None:
            nonlocal commits
            await self.flush()  # what commit does first: rows added through the unit of work are written now
            inbox = (await self.connection()).sync_connection.info.pop("inbox", 0) if self.in_transaction() else 0
            if not inbox:  # not an event transaction (e.g. a dead letter)
                await super().commit()
                return
            commits += 1
            if mode == "commit" and commits == n:
                await asyncio.sleep(0.3)
                die(f"commit {n} of {inbox} event(s): handlers ran, dying at the commit")
            await super().commit()
            if mode == "after-commit" and commits == n:
                die(f"commit {n} of {inbox} event(s): committed, dying before the acks")

    sessions: Any = async_sessionmaker(engine, class_=DyingSession, expire_on_commit=False)
    connection = await connect(nats_url, name="dying-consumer")
    consumer = EventConsumer(build_registry(hook=hook), sessions, connection.jetstream(), CRASH_CONSUMER_SETTINGS)
    await asyncio.wait_for(consumer.run(), timeout=30)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], int(args[3]), args[4] if len(args) > 4 else None))
