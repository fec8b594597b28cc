"""``InlineReads`` (decision 0206): a hot path's short reads on one connection kept for the process on
SQLite (no pool checkout per read), each read as fresh as a read on a new connection; a pooled
connection per read on other databases or when a read is already running."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from testsvc import create_schema, items

from homecraft_shared.db import INLINE_READ, InlineReads, create_engine, is_sqlite

BY_ID = sa.select(items.c.id, items.c.quantity).where(items.c.id == sa.bindparam("id")).execution_options(**INLINE_READ)


def _count_checkouts(engine: Any) -> list[int]:
    checkouts: list[int] = []
    event.listen(engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
    return checkouts


async def test_reads_see_every_commit_and_take_no_checkout_each_on_sqlite(database_url: str) -> None:
    await create_schema(database_url)
    engine = create_engine(database_url)
    writer = create_engine(database_url)  # another pool: commits the reader did not make
    checkouts = _count_checkouts(engine)
    reads = InlineReads(engine)
    try:
        assert await reads.all(BY_ID, {"id": "a"}) == []
        for quantity in (1, 2, 3):
            async with writer.begin() as connection:
                await connection.execute(sa.delete(items))
                await connection.execute(items.insert().values(id="a", quantity=quantity))
            # The commit just made is seen: no read transaction (snapshot) is kept open between reads.
            assert [tuple(row) for row in await reads.all(BY_ID, {"id": "a"})] == [("a", quantity)]
        rows = await asyncio.gather(*(reads.all(BY_ID, {"id": "a"}) for _ in range(20)))
        assert all([tuple(row) for row in found] == [("a", 3)] for found in rows)
        if is_sqlite(database_url):
            # One checkout for the kept connection, however many reads, and no read ever waited for another.
            assert (len(checkouts), reads.pooled_reads) == (1, 0)
            assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        else:
            assert len(checkouts) == reads.pooled_reads == 24
        await reads.aclose()
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await reads.aclose()
        await writer.dispose()
        await engine.dispose()


async def test_a_read_while_another_runs_takes_a_pooled_connection(database_url: str) -> None:
    await create_schema(database_url)
    engine = create_engine(database_url)
    reads = InlineReads(engine)
    try:
        async with engine.begin() as connection:
            await connection.execute(items.insert().values(id="a", quantity=5))
        reads._busy = True  # as if a read on the kept connection were suspended mid-way
        assert [tuple(row) for row in await reads.all(BY_ID, {"id": "a"})] == [("a", 5)]
        assert reads.pooled_reads == 1
        reads._busy = False
        assert [tuple(row) for row in await reads.all(BY_ID, {"id": "a"})] == [("a", 5)]
        assert reads.pooled_reads == (0 if is_sqlite(database_url) else 1) + 1
    finally:
        await reads.aclose()
        await engine.dispose()
