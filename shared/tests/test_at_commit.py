"""``WrittenAtCommit`` (decision 0317): rows kept on the session go in one statement with the commit; a later
row of the same key replaces an earlier one; ``kept`` shows them, ``write_now`` sends them at once; a rollback
forgets them; inside a savepoint a row is written at once. (The outbox's ``stage_event`` is its keyless use:
tests in test_outbox.py.)"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from testsvc import items

from homecraft_shared.at_commit import WrittenAtCommit
from homecraft_shared.testing.statements import rows_per_statement

Maker = async_sessionmaker[AsyncSession]
ITEMS = WrittenAtCommit("test_items", items.insert())


async def stored(sessionmaker: Maker) -> dict[str, int]:
    async with sessionmaker() as session:
        return {row.id: row.quantity for row in (await session.execute(sa.select(items))).all()}


async def test_kept_rows_go_in_one_statement_with_the_commit_the_last_of_a_key_winning(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        with rows_per_statement((await session.connection()).sync_engine, "INSERT INTO test_items") as inserts:
            await ITEMS.keep(session, {"id": "a", "quantity": 1}, key="a")
            await ITEMS.keep(session, {"id": "b", "quantity": 1}, key="b")
            await ITEMS.keep(session, {"id": "a", "quantity": 2}, key="a")  # replaces a's first row
            assert dict(ITEMS.kept(session)) == {"a": {"id": "a", "quantity": 2}, "b": {"id": "b", "quantity": 1}}
            assert inserts == []
            await session.commit()
    assert inserts == [2]
    assert await stored(sessionmaker) == {"a": 2, "b": 1}


async def test_write_now_sends_them_before_a_read_in_the_same_transaction(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        await ITEMS.keep(session, {"id": "c", "quantity": 3}, key="c")
        await ITEMS.write_now(session)
        assert ITEMS.kept(session) == {}
        assert (await session.execute(sa.select(items.c.quantity).where(items.c.id == "c"))).scalar() == 3
        await session.commit()  # nothing is written twice
    assert await stored(sessionmaker) == {"c": 3}


async def test_a_rollback_forgets_them_and_a_savepoint_writes_at_once(sessionmaker: Maker) -> None:
    async with sessionmaker() as session:
        await ITEMS.keep(session, {"id": "gone", "quantity": 1}, key="gone")
        await session.rollback()
        await ITEMS.keep(session, {"id": "outside", "quantity": 1}, key="outside")
        savepoint = await session.begin_nested()
        await ITEMS.keep(session, {"id": "inside", "quantity": 1}, key="inside")
        assert "inside" not in ITEMS.kept(session)  # written already, with the savepoint
        await savepoint.rollback()
        await session.commit()
    assert await stored(sessionmaker) == {"outside": 1}
