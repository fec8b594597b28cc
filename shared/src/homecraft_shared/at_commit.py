"""Writes a hot path keeps on its session and sends as ONE statement just before the transaction commits.

A consumer batch applies many events in one transaction; a write that each of them makes the same way (an
outbox row, a processed event's outcome) costs a round trip per event when sent at once, and one executemany
per transaction when kept until the commit (decisions 0307, 0317). A ``WrittenAtCommit`` is one such write:

- ``keep`` adds a row's parameters; with a ``key``, a later row of the same key replaces the earlier one;
- the session's ``before_commit`` sends them all in one ``statement`` on the transaction's connection;
- a rollback forgets them; inside a savepoint (which could be rolled back alone) a row is written at once;
- ``kept`` shows them to reads in the same transaction, and ``write_now`` sends them before a read that
  must see them in the database.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from sqlalchemy import Executable, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from homecraft_shared.connections import execute, session_connection


class WrittenAtCommit:
    """One kind of write kept until the commit. Create once per kind, at import time (it registers session
    listeners)."""

    def __init__(self, name: str, statement: Executable) -> None:
        self._key = f"written_at_commit:{name}"
        self._statement = statement
        event.listen(Session, "before_commit", self._before_commit)
        event.listen(Session, "after_soft_rollback", self._after_rollback)

    async def keep(self, session: AsyncSession, row: dict[str, Any], key: Hashable | None = None) -> None:
        """Write ``row`` (the statement's parameters) with the transaction's commit, or at once in a savepoint."""
        if session.in_nested_transaction():
            await execute(await session_connection(session), self._statement, row)
            return
        if session.sync_session.get_transaction() is None:
            # The row belongs to a transaction, and goes with its rollback: begin it (no I/O; it connects on use).
            session.sync_session.begin()
        rows: dict[Hashable, dict[str, Any]] = session.info.setdefault(self._key, {})
        rows[len(rows) if key is None else key] = row

    def kept(self, session: AsyncSession) -> Mapping[Hashable, dict[str, Any]]:
        """The rows kept in the session's transaction and not written yet, by key."""
        rows: Mapping[Hashable, dict[str, Any]] = session.info.get(self._key, {})
        return rows

    async def write_now(self, session: AsyncSession) -> None:
        """Send the kept rows now (before a read that must find them in the database)."""
        rows = session.info.pop(self._key, None)
        if rows:
            await execute(await session_connection(session), self._statement, list(rows.values()))

    def _before_commit(self, session: Session) -> None:
        rows = session.info.pop(self._key, None)
        if rows:  # runs inside the AsyncSession's greenlet: the sync API reaches the async driver
            session.connection().execute(self._statement, list(rows.values()))

    def _after_rollback(self, session: Session, transaction: SessionTransaction) -> None:
        if not transaction.nested:  # a savepoint's rollback keeps the rows kept outside it
            session.info.pop(self._key, None)
