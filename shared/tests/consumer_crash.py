"""Run by test_consumer_crash.py as a subprocess: a consumer that dies (SIGKILL) in the middle of
its CRASH_ON-th handler call, after writing the effect in its transaction and before the commit.

usage: python consumer_crash.py DATABASE_URL NATS_URL CRASH_ON
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from sqlalchemy.ext.asyncio import AsyncSession
from testsvc import CRASH_CONSUMER_SETTINGS, ItemRecordedV1, build_registry

from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.messaging.consumer import EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect


async def main(database_url: str, nats_url: str, crash_on: int) -> None:
    calls = 0

    async def die_mid_handler(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        nonlocal calls
        calls += 1
        if calls == crash_on:
            await session.flush()  # the effect row is written in the open transaction
            print(f"handling {data.item_id}: effect written, dying before commit", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    engine = create_engine(database_url)
    connection = await connect(nats_url, name="dying-consumer")
    consumer = EventConsumer(
        build_registry(hook=die_mid_handler), create_sessionmaker(engine), connection.jetstream(),
        CRASH_CONSUMER_SETTINGS,
    )
    await asyncio.wait_for(consumer.run(), timeout=30)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
