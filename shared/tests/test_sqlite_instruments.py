"""The instruments of decision 0309 (issue 12's stalls): a group-commit batch that was slow says where its
time went (waiting for the process's SQLite write lock, its statements, its commit) and is counted; a
write transaction that held the write lock long names its task; the event loop's lag is watched."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import items

from homecraft_shared.db import create_engine, is_sqlite
from homecraft_shared.group_commit import SLOW_BATCHES, GroupCommit
from homecraft_shared.observability import LOOP_LAG_WARNINGS, render_counters, watch_loop_lag

Maker = async_sessionmaker[AsyncSession]


async def test_a_group_commit_that_waited_for_the_write_lock_is_logged_with_where_its_time_went(
    sessionmaker: Maker, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A quick batch logs nothing; one that waited for another writer of the process (SQLite: the write
    queue) logs the wait as its dominant part, is counted, and the holder's long hold is logged with its
    task's name."""
    group = GroupCommit(create_engine(database_url), owns_engine=True)
    caplog.set_level(logging.WARNING)
    slow_before = SLOW_BATCHES.value
    try:
        await group.run(lambda connection: connection.execute(items.insert().values(id="quick", quantity=1)))
        quick = group.stats.slow_batches  # 0, unless the machine stalled this one too
        async with sessionmaker() as session:  # another writer of this process holds the write lock
            await session.execute(items.insert().values(id="holder", quantity=1))
            waiting = asyncio.create_task(group.run(
                lambda connection: connection.execute(sa.update(items).where(items.c.id == "quick").values(quantity=2))))
            await asyncio.sleep(0.3)  # over SLOW_BATCH_SECONDS (0.2)
            await session.commit()
        await waiting
    finally:
        await group.aclose()
    if not is_sqlite(database_url):
        return  # no process-wide write lock on PostgreSQL: the update did not wait for the insert
    assert group.stats.slow_batches == quick + 1
    assert SLOW_BATCHES.value == slow_before + quick + 1
    slow = [r for r in caplog.records if "slow batch" in r.getMessage()]
    record = max(slow, key=lambda r: r.write_lock_wait_ms)  # type: ignore[attr-defined]
    assert record.write_lock_wait_ms >= 200  # type: ignore[attr-defined]
    assert record.write_lock_wait_ms > record.statements_ms + record.commit_ms  # type: ignore[attr-defined]
    assert record.batch == 1 and record.wal_kb >= 0  # type: ignore[attr-defined]
    this_task = asyncio.current_task()
    assert this_task is not None
    [held] = [r for r in caplog.records if "held the write lock long" in r.getMessage()
              and r.holder == this_task.get_name()]  # type: ignore[attr-defined]
    assert held.held_ms >= 200  # type: ignore[attr-defined]
    assert f'homecraft_group_commit_slow_batches_total{{service="x"}} {SLOW_BATCHES.value}' in render_counters('service="x"')


async def test_the_loop_lag_watch_warns_and_counts_when_the_loop_is_blocked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="homecraft.loop")
    before = LOOP_LAG_WARNINGS.value
    watch = asyncio.create_task(watch_loop_lag(0.1, interval_seconds=0.02))
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251  (the point: a synchronous call blocking the event loop)
        await asyncio.sleep(0.05)
    finally:
        watch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watch
    assert LOOP_LAG_WARNINGS.value >= before + 1
    lags = [r.lag_ms for r in caplog.records if r.getMessage() == "event loop lagged"]  # type: ignore[attr-defined]
    assert max(lags, default=0) >= 200
