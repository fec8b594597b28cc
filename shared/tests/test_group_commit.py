"""Group commit (decision 0204): concurrent writers' work in one transaction and one commit, each
answered only after the commit holding its rows; one failing member does not fail the others."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from testsvc import create_schema, items

from homecraft_shared.db import create_engine
from homecraft_shared.group_commit import GroupCommit, Inserts
from homecraft_shared.testing.statements import rows_per_statement


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await create_schema(database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def insert(item_id: str, quantity: int = 1) -> Any:
    async def work(connection: AsyncConnection) -> str:
        await connection.execute(items.insert().values(id=item_id, quantity=quantity))
        return item_id

    return work


async def stored(database_url: str) -> set[str]:
    """What another connection pool (another process, in effect) sees as committed."""
    other = create_engine(database_url)
    try:
        async with other.connect() as connection:
            return set((await connection.scalars(sa.select(items.c.id))).all())
    finally:
        await other.dispose()


def count_commits(engine: AsyncEngine) -> list[int]:
    commits: list[int] = []
    event.listen(engine.sync_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def test_concurrent_writers_share_one_commit_and_each_gets_its_own_result(engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine)
    commits = count_commits(engine)
    results = await asyncio.gather(*(group.run(insert(f"item-{n}", n)) for n in range(20)))
    assert results == [f"item-{n}" for n in range(20)]
    assert await stored(database_url) == {f"item-{n}" for n in range(20)}
    # All twenty were handed in at the same moment: one batch, one transaction, one commit.
    assert (group.stats.batches, group.stats.committed, group.stats.largest_batch) == (1, 20, 20)
    assert len(commits) == 1


async def test_a_writer_is_answered_only_after_the_commit_that_holds_its_rows(engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine)
    visible_at_answer: list[bool] = []

    async def writer(n: int) -> None:
        await group.run(insert(f"durable-{n}"))
        visible_at_answer.append(f"durable-{n}" in await stored(database_url))

    await asyncio.gather(*(writer(n) for n in range(5)))
    assert visible_at_answer == [True] * 5


async def test_later_writers_form_the_next_batch_while_one_commits(engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine, max_batch=4)
    await asyncio.gather(*(group.run(insert(f"cap-{n}")) for n in range(10)))
    assert await stored(database_url) == {f"cap-{n}" for n in range(10)}
    assert (group.stats.batches, group.stats.largest_batch) == (3, 4)


async def test_writers_handed_in_while_a_batch_waits_join_it(engine: AsyncEngine, database_url: str) -> None:
    """Decision 0311: a batch that waits (here its first work, as it would for the write lock another writer
    of the process holds) takes in the writers handed in meanwhile: one batch, one commit, not two."""
    group = GroupCommit(engine)
    commits = count_commits(engine)
    gate = asyncio.Event()

    async def waits_then_inserts(connection: AsyncConnection) -> str:
        await gate.wait()
        return await insert("first")(connection)

    first = asyncio.create_task(group.run(waits_then_inserts))
    await asyncio.sleep(0.01)  # the batch of one has started and waits
    later = [asyncio.create_task(group.run(insert(f"later-{n}"))) for n in range(3)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(first, *later) == ["first", "later-0", "later-1", "later-2"]
    assert await stored(database_url) == {"first", "later-0", "later-1", "later-2"}
    assert (group.stats.batches, group.stats.committed, group.stats.largest_batch) == (1, 4, 4)
    assert len(commits) == 1


async def test_a_unique_key_clash_fails_only_its_own_writer(engine: AsyncEngine, database_url: str) -> None:
    await GroupCommit(engine).run(insert("taken"))
    group = GroupCommit(engine)
    outcomes = await asyncio.gather(
        *(group.run(insert(f"fine-{n}")) for n in range(3)), group.run(insert("taken")),
        *(group.run(insert(f"later-{n}")) for n in range(3)), return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == ["str"] * 3 + ["IntegrityError"] + ["str"] * 3
    assert isinstance(outcomes[3], IntegrityError)
    assert await stored(database_url) == {"taken"} | {f"fine-{n}" for n in range(3)} | {f"later-{n}" for n in range(3)}
    assert group.stats.reruns_alone == 7


async def test_a_writer_that_raises_rolls_back_its_own_writes_only(engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine)

    async def half_then_fail(connection: AsyncConnection) -> None:
        await connection.execute(items.insert().values(id="half", quantity=1))
        raise ValueError("refused after writing")

    outcomes = await asyncio.gather(group.run(insert("a")), group.run(half_then_fail), group.run(insert("b")),
                                    return_exceptions=True)
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], ValueError)
    assert await stored(database_url) == {"a", "b"}


async def test_a_lone_writer_is_committed_at_once_and_a_closed_group_refuses_work(engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine)
    assert await group.run(insert("alone")) == "alone"
    assert await stored(database_url) == {"alone"}
    pending = asyncio.ensure_future(group.run(insert("last")))
    await asyncio.sleep(0)
    await group.aclose()
    assert await pending == "last"
    with pytest.raises(RuntimeError, match="closed"):
        await group.run(insert("too late"))
    assert await stored(database_url) == {"alone", "last"}


async def test_requests_holding_every_pooled_connection_still_get_their_writes_committed(database_url: str) -> None:
    """The callers hold connections of their own pool while they wait (a request's session, after its
    reads): on the same pool the group would wait for them and they for it; on its own it does not."""
    await create_schema(database_url)
    requests_engine = create_engine(database_url, pool_size=2, max_overflow=0, pool_timeout=5)
    group = GroupCommit.own_pool(database_url)

    async def request(n: int) -> str:
        async with requests_engine.connect() as connection:  # held across the write, like a request's session
            await connection.execute(sa.select(items.c.id))
            return await group.run(insert(f"held-{n}"))

    try:
        async with asyncio.timeout(30):
            assert await asyncio.gather(*(request(n) for n in range(2))) == ["held-0", "held-1"]
    finally:
        await group.aclose()
        await requests_engine.dispose()
    assert await stored(database_url) == {"held-0", "held-1"}


async def test_row_inserts_of_one_batch_go_as_one_multi_row_statement_and_a_clash_fails_only_its_own(
        engine: AsyncEngine, database_url: str) -> None:
    group = GroupCommit(engine)
    with rows_per_statement(engine, "INSERT") as inserts:
        await asyncio.gather(*(group.run(Inserts((items, [{"id": f"row-{n}", "quantity": n}]))) for n in range(10)))
    assert await stored(database_url) == {f"row-{n}" for n in range(10)}
    assert len(inserts) == 1  # ten writers, one statement
    outcomes = await asyncio.gather(*(group.run(Inserts((items, [{"id": f"more-{n}", "quantity": n}]))) for n in range(3)),
                                    group.run(Inserts((items, [{"id": "row-0", "quantity": 0}]))),
                                    group.run(insert("mixed-in")), return_exceptions=True)
    assert outcomes[:3] == [None] * 3 and outcomes[4] == "mixed-in"
    assert isinstance(outcomes[3], IntegrityError)
    assert await stored(database_url) == {f"row-{n}" for n in range(10)} | {f"more-{n}" for n in range(3)} | {"mixed-in"}
