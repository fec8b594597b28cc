"""Run by test_replicas.py as a subprocess: one replica of the test consumer, sharing the durable
with the others, until it is killed.

usage: python consumer_replica.py DATABASE_URL NATS_URL [STALL_ITEM MARKER_FILE]

Every handler call prints "<pid> handling <item>". With STALL_ITEM, the first replica to handle
that item (the one that creates MARKER_FILE) stalls its whole process (a blocking sleep, like a long
GC pause or CPU-bound work) after writing the effect, for longer than the ack wait: JetStream
redelivers the event to another replica while the first one still holds it uncommitted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

from sqlalchemy.ext.asyncio import AsyncSession
from testsvc import REPLICA_CONSUMER_SETTINGS, ItemRecordedV1, build_registry

from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.messaging.consumer import EventConsumer
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import connect

STALL_SECONDS = 2 * REPLICA_CONSUMER_SETTINGS.ack_wait_seconds


class WithError(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        error = getattr(record, "error", None)
        return super().format(record) + (f" {error}" if error else "")


async def main(database_url: str, nats_url: str, stall_item: str | None, marker: str | None) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(WithError(f"{os.getpid()} %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    logging.getLogger("nats").setLevel(logging.ERROR)

    async def hook(session: AsyncSession, data: ItemRecordedV1, envelope: EventEnvelope) -> None:
        print(f"{os.getpid()} handling {data.item_id}", flush=True)
        if data.item_id == stall_item and marker is not None:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return
            await session.flush()
            print(f"{os.getpid()} stalling on {data.item_id}", flush=True)
            time.sleep(STALL_SECONDS)  # noqa: ASYNC251  (the point: nothing else in this process runs)

    engine = create_engine(database_url)
    connection = await connect(nats_url, name=f"replica-{os.getpid()}")
    consumer = EventConsumer(build_registry(hook=hook), create_sessionmaker(engine), connection.jetstream(),
                             REPLICA_CONSUMER_SETTINGS)
    print(f"{os.getpid()} consuming", flush=True)
    await consumer.run()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2] if len(args) > 2 else None, args[3] if len(args) > 3 else None))
