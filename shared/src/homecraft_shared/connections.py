"""The connection of a session's transaction, and its statements, without a trip through the greenlet
bridge each time.

``await session.connection()`` on an ``AsyncSession`` starts a greenlet, switches into it, asks the
session for its connection and wraps it: about 25 µs on this machine even when the transaction
already has its connection. Hot paths that run Core statements on the session's connection (the
consumer's batch, the payments refund path: decision 0308) ask for it ten times per event.

``session_connection`` keeps the answer for the session's transaction (``KeptForTransaction``), and
gives it back while that same transaction is still active; a new transaction (after
a commit or rollback), or one that can no longer be used (a failed flush), goes through
``session.connection()`` again, so the behaviour is exactly that of ``session.connection()``.

``execute(connection, statement, parameters)`` is ``await connection.execute(statement, parameters)``
for the statements of a SQLite transaction that has written: those run inline on the event loop's
thread anyway (``db._OneHopCursor``: the transaction holds SQLite's write lock), so the greenlet that
``AsyncConnection.execute`` starts for each one, and its switches, are all they would cost beyond the
statement (about 20 µs of ~37 µs for a point read on this machine, decision 0311). Any other
statement (PostgreSQL, a read before the transaction's first write, the first write) goes through
``connection.execute`` as before, unless it is ``Prepared``.

``Prepared(statement)``: a Core statement built once at import for a hot path (decision 0318). On
PostgreSQL ``execute`` runs it straight on the asyncpg cursor of the session's transaction, compiled once:
SQLAlchemy's per-execution work (execution context, parameter processing, result objects: about half of
the ~300 µs of CPU a point statement costs on this machine) is skipped; its bind and result type
processing is still applied, its errors are raised as SQLAlchemy's, and its rows have the same keys. What
it skips besides: the engine's ``before/after_cursor_execute`` events. Anywhere else it runs as its
statement would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ClauseElement, Dialect, Executable, IteratorResult, Result
from sqlalchemy.engine.result import SimpleResultMetaData
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util.typing import TupleAny, Unpack

from homecraft_shared.db import runs_inline
from homecraft_shared.transaction_values import KeptForTransaction

_CONNECTION: KeptForTransaction[AsyncConnection] = KeptForTransaction("connection")


async def session_connection(session: AsyncSession) -> AsyncConnection:
    """``await session.connection()``, answered from the session's current transaction when it has one."""
    connection = _CONNECTION.get(session)
    if connection is None:
        connection = await session.connection()
        _CONNECTION.keep(session, connection)
    return connection


async def flush_pending(session: AsyncSession) -> None:
    """``await session.flush()``, without the trip through the greenlet bridge when the unit of work holds
    nothing to write (no new, changed or deleted objects): the flush would return at once then anyway."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


@dataclass(frozen=True)
class _Compiled:
    """A ``Prepared`` statement as asyncpg runs it: its SQL, and per positional parameter and per result
    column, its type's processing (None: the value as it is)."""

    sql: str
    compiled: SQLCompiler
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    columns: SimpleResultMetaData
    column_processors: tuple[Callable[[Any], Any] | None, ...]


class Prepared:
    """A Core statement built once (at import), which ``execute`` runs straight on asyncpg (module doc)."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[Dialect, _Compiled] = {}

    def compiled_for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect)
        if found is None:
            found = self._compiled[dialect] = _compile(cast(ClauseElement, self.statement), dialect)
        return found


def _compile(statement: ClauseElement, dialect: Dialect) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    if compiled.positiontup is None or any(bind.expanding for bind in compiled.binds.values()):
        raise TypeError("a Prepared statement needs positional parameters and no expanding IN lists")
    parameters: list[tuple[str, Callable[[Any], Any] | None]] = []
    for name in compiled.positiontup:
        process = compiled._bind_processors.get(name)
        if isinstance(process, Sequence):  # a tuple-typed parameter: not used by Prepared statements
            raise TypeError(f"a Prepared statement cannot take the tuple parameter {name!r}")
        parameters.append((name, process))
    columns = compiled._result_columns
    return _Compiled(compiled.string, compiled, tuple(parameters),
                     SimpleResultMetaData([column.keyname for column in columns]),
                     tuple(column.type._cached_result_processor(dialect, None) for column in columns))


async def execute(
    connection: AsyncConnection, statement: Executable | Prepared, parameters: Any = None
) -> Result[Unpack[TupleAny]]:
    """``await connection.execute(statement, parameters)``; inline statements without the greenlet, and a
    ``Prepared`` one straight on asyncpg (one set of parameters)."""
    if isinstance(statement, Prepared):
        if connection.dialect.driver == "asyncpg":
            return await _on_asyncpg(connection, statement.compiled_for(connection.dialect), parameters or {})
        statement = statement.statement
    if runs_inline(connection):
        return connection.sync_connection.execute(statement, parameters)  # type: ignore[union-attr]
    return await connection.execute(statement, parameters)


async def _on_asyncpg(connection: AsyncConnection, compiled: _Compiled,
                      parameters: Mapping[str, Any]) -> Result[Unpack[TupleAny]]:
    values = compiled.compiled.construct_params(parameters)
    arguments = [value if process is None else process(value)
                 for value, process in ((values[name], process) for name, process in compiled.parameters)]
    # SQLAlchemy's own asyncpg cursor: it begins the driver's transaction on the first statement, prepares
    # the statement once per connection and turns asyncpg's errors into the DB-API's.
    cursor: Any = connection.sync_connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    dialect = connection.dialect
    try:
        await cursor._prepare_and_execute(compiled.sql, arguments)
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(compiled.sql, arguments, error, dialect.loaded_dbapi.Error,
                                  dialect=dialect) from error
    processors = compiled.column_processors
    rows = [tuple(value if process is None else process(value) for value, process in zip(row, processors, strict=True))
            for row in cursor._rows] if any(processors) else [tuple(row) for row in cursor._rows]
    return IteratorResult(compiled.columns, iter(rows))
