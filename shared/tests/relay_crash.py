"""Run by test_relay_crash.py as a subprocess: a relay that dies (SIGKILL) right after JetStream
acked its first publish, before it could mark the outbox row published.

usage: python relay_crash.py DATABASE_URL NATS_URL
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

import testsvc  # noqa: F401  (registers the test contract)
from nats.js.api import PubAck

from homecraft_shared.db import create_engine, create_sessionmaker
from homecraft_shared.messaging.jetstream import connect
from homecraft_shared.messaging.outbox import OutboxRelay
from homecraft_shared.messaging.tables import OutboxEvent


class DyingRelay(OutboxRelay):
    """Publishes a batch of one event, and dies once JetStream has acked it."""

    async def _publish_batch(self, rows: Sequence[OutboxEvent]) -> list[PubAck | Exception | None]:
        outcomes = await super()._publish_batch(rows)
        if all(isinstance(outcome, PubAck) for outcome in outcomes):  # JetStream has acked: the event is stored
            print(f"published {[row.event_id for row in rows]}; dying before marking", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return outcomes


async def main(database_url: str, nats_url: str) -> None:
    engine = create_engine(database_url)
    connection = await connect(nats_url, name="dying-relay")
    await DyingRelay(create_sessionmaker(engine), connection.jetstream(), batch_size=1).publish_pending()
    print("relay survived: the kill did not happen", flush=True)
    sys.exit(3)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
