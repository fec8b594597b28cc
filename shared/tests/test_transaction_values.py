"""``KeptForTransaction``: a value kept on the session is given back in the transaction it was kept in, and
in no other: not after that transaction's commit or rollback, not once a failed flush has made it unusable."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from homecraft_shared.messaging.tables import InboxEvent
from homecraft_shared.transaction_values import KeptForTransaction

KEPT: KeptForTransaction[str] = KeptForTransaction("transaction-values-test")
OTHER: KeptForTransaction[str] = KeptForTransaction("transaction-values-test-other")


def inbox_row(event_id: uuid.UUID) -> InboxEvent:
    return InboxEvent(consumer="transaction-values-test", event_id=event_id, event_type="t", processed_at=utcnow())


async def test_a_value_is_kept_for_its_transaction_only(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        assert KEPT.get(session) is None
        with pytest.raises(RuntimeError, match="no transaction"):
            KEPT.keep(session, "before any transaction")
        await session.execute(select(1))
        KEPT.keep(session, "first")
        assert KEPT.get(session) == "first"
        assert OTHER.get(session) is None  # each kind has its own place
        await session.commit()
        assert KEPT.get(session) is None  # committed: no transaction
        await session.execute(select(1))
        assert KEPT.get(session) is None  # the next transaction does not see the last one's value
        KEPT.keep(session, "second")
        await session.rollback()
        await session.execute(select(1))
        assert KEPT.get(session) is None


async def test_a_transaction_a_failed_flush_made_unusable_gives_nothing_back(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    event_id = uuid.uuid4()
    async with sessionmaker() as session:
        session.add(inbox_row(event_id))
        await session.commit()
    async with sessionmaker() as session:
        await session.execute(select(1))
        KEPT.keep(session, "kept")
        session.add(inbox_row(event_id))
        with pytest.raises(IntegrityError):
            await session.flush()
        assert KEPT.get(session) is None
