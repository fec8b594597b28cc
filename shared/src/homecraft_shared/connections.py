"""The connection of a session's transaction, and its statements, without a trip through the greenlet
bridge each time.

``await session.connection()`` on an ``AsyncSession`` starts a greenlet, switches into it, asks the
session for its connection and wraps it: about 25 µs on this machine even when the transaction
already has its connection. Hot paths that run Core statements on the session's connection (the
consumer's batch, the payments refund path: decision 0308) ask for it ten times per event.

``session_connection`` keeps the answer in ``session.info`` together with the session's transaction
it belongs to, and gives it back while that same transaction is still active; a new transaction (after
a commit or rollback), or one that can no longer be used (a failed flush), goes through
``session.connection()`` again, so the behaviour is exactly that of ``session.connection()``.

``execute(connection, statement, parameters)`` is ``await connection.execute(statement, parameters)``
for the statements of a SQLite transaction that has written: those run inline on the event loop's
thread anyway (``db._OneHopCursor``: the transaction holds SQLite's write lock), so the greenlet that
``AsyncConnection.execute`` starts for each one, and its switches, are all they would cost beyond the
statement (about 20 µs of ~37 µs for a point read on this machine, decision 0311). Any other
statement (PostgreSQL, a read before the transaction's first write, the first write) goes through
``connection.execute`` as before. The result is the same buffered ``CursorResult``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.util.typing import TupleAny, Unpack

from homecraft_shared.db import runs_inline

_KEY = "homecraft_transaction_connection"


async def session_connection(session: AsyncSession) -> AsyncConnection:
    """``await session.connection()``, answered from the session's current transaction when it has one."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None and transaction.is_active:
        kept = session.info.get(_KEY)
        if kept is not None and kept[0] is transaction:
            connection: AsyncConnection = kept[1]
            return connection
    connection = await session.connection()
    session.info[_KEY] = (session.sync_session.get_transaction(), connection)
    return connection


async def flush_pending(session: AsyncSession) -> None:
    """``await session.flush()``, without the trip through the greenlet bridge when the unit of work holds
    nothing to write (no new, changed or deleted objects): the flush would return at once then anyway."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def execute(
    connection: AsyncConnection, statement: Executable, parameters: Any = None
) -> CursorResult[Unpack[TupleAny]]:
    """``await connection.execute(statement, parameters)``; inline statements without the greenlet."""
    if runs_inline(connection):
        return connection.sync_connection.execute(statement, parameters)  # type: ignore[union-attr]
    return await connection.execute(statement, parameters)
