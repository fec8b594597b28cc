"""An idle consumer is quiet: a fetch that times out because nothing arrived is not a failure
(issue 7, finding 7: the catalog logged "fetch failed; retrying TimeoutError()" while idle)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from nats.js import JetStreamContext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import background, build_registry, record_item, wait_until

from homecraft_shared.messaging.consumer import ConsumerSettings, EventConsumer
from homecraft_shared.messaging.outbox import OutboxRelay

IDLE_SECONDS = 6.0


async def test_an_idle_consumer_logs_no_fetch_failures(
    sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="homecraft_shared.messaging")
    await record_item(sessionmaker, "first")
    assert await OutboxRelay(sessionmaker, js).publish_pending() == 1
    handled: list[str] = []

    async def remember(session: AsyncSession, data: object, envelope: object) -> None:
        handled.append(getattr(data, "item_id", ""))

    # A short fetch timeout makes the race in nats-py that raises a bare TimeoutError (the no-wait
    # probe used up the deadline) happen on every few fetches instead of now and then on a busy machine.
    settings = ConsumerSettings(fetch_timeout_seconds=0.02)
    consumer = EventConsumer(build_registry(hook=remember), sessionmaker, js, settings)
    async with background() as tasks:
        tasks.start(consumer.run(), "consumer")

        async def got_first() -> bool:
            return handled == ["first"]

        await wait_until(got_first, within=20, what="the first event handled", tasks=tasks)
        await asyncio.sleep(IDLE_SECONDS)  # several fetch timeouts with nothing to fetch
        await record_item(sessionmaker, "after the quiet")
        assert await OutboxRelay(sessionmaker, js).publish_pending() == 1

        async def got_second() -> bool:
            return handled == ["first", "after the quiet"]

        await wait_until(got_second, within=20, what="the event after the idle time handled", tasks=tasks)
    noisy = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("homecraft_shared.messaging")]
    assert noisy == [], [(r.getMessage(), getattr(r, "error", None)) for r in noisy]
