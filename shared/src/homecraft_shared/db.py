"""Async SQLAlchemy 2 setup: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) given a URL.

Unit of work: services and repositories never commit; the request (``dependencies.DbSession``,
i.e. ``ServiceRuntime.session``) or the event handler (the consumer) owns the transaction.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import enum
import logging
import sqlite3
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, Executable, Integer, MetaData, Row, event, text
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection, DBAPICursor, ExecutionContext
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import EMPTY_DICT, await_only
from sqlalchemy.util.concurrency import in_greenlet

from homecraft_shared import sqlite_checkpoint
from homecraft_shared.errors import Conflict

logger = logging.getLogger(__name__)

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-increment big integer that SQLite accepts as its rowid alias.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use homecraft_shared.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def string_enum(kind: type[enum.StrEnum], length: int = 16) -> Enum:
    """A column type for a ``StrEnum`` stored as its plain string values (no native enum type), so
    adding a value is not a schema change."""
    return Enum(kind, native_enum=False, length=length, values_callable=lambda members: [m.value for m in members])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base for every service's models (each process only imports its own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# How long a writer waits for the SQLite write lock, in this process (the queue below) and across
# processes (SQLite's busy handler), before "database is locked".
SQLITE_LOCK_TIMEOUT_SECONDS = 30.0
# Statements before which pysqlite opens its (deferred) transaction: the first write takes the lock.
_SQLITE_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


# A write transaction that held this process's write queue longer than this is logged (a JSON
# warning naming the task that held it), because every other writer of the process waited for it.
SLOW_WRITE_HOLD_SECONDS = 0.2


class _WriteQueue:
    """The writers of one SQLite database in one process and event loop, served first come, first
    served; the connection holding it is the one inside a write transaction."""

    def __init__(self, database: str) -> None:
        self.lock = asyncio.Lock()
        self.database = database
        self.holder = ""  # the asyncio task holding it (its name), for the slow-hold warning
        self.holder_task: asyncio.Task[Any] | None = None
        self.held_since = 0.0

    async def acquire(self) -> float:
        """Wait for the queue; the seconds waited."""
        started = time.perf_counter()
        try:
            async with asyncio.timeout(SQLITE_LOCK_TIMEOUT_SECONDS):
                await self.lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked (waited {SQLITE_LOCK_TIMEOUT_SECONDS:.0f} s for another writer of this process; "
                f"held by {self.holder or 'unknown'})"
            ) from None
        self.held_since = time.perf_counter()
        task = self.holder_task = asyncio.current_task()
        self.holder = task.get_name() if task is not None else ""
        return self.held_since - started

    def release(self) -> None:
        held = time.perf_counter() - self.held_since
        holder = self.holder
        self.holder_task = None
        self.lock.release()
        if held > SLOW_WRITE_HOLD_SECONDS:
            logger.warning("SQLite write transaction held the write lock long; this process's other writers waited",
                           extra={"held_ms": round(held * 1000, 1), "holder": holder,
                                  "database": Path(self.database).name})


# database file -> its writers' queue, per event loop (an asyncio.Lock belongs to one loop).
_write_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, _WriteQueue]] = (
    weakref.WeakKeyDictionary()
)
# id(DBAPI connection) -> the queue it holds, from its first write until its commit or rollback.
_held: dict[int, _WriteQueue] = {}
# id(DBAPI connection) -> seconds its current write transaction waited for the queue (``write_lock_wait``).
_waited: dict[int, float] = {}


# id(DBAPI connection) of the connections whose transaction has written: they hold SQLite's write lock
# (and this process's write queue) until their commit or rollback, so their statements cannot wait for
# a lock and run on the event loop's thread (``_OneHopCursor``).
_writing: set[int] = set()

# An execution option for a short read that may run on the event loop's thread (SQLite only; other
# databases ignore it): ``select(...).execution_options(**INLINE_READ)``. For point reads a hot path
# makes on every request (the catalog's price lookup by primary key): in WAL mode a reader never waits
# for a writer, so the statement's own few tens of microseconds are all it holds the loop for, and the
# trip to aiosqlite's thread (a thread wake-up and two GIL hand-offs, more under load) is saved. Not
# for scans or anything whose size the caller does not bound. A write given it still goes to the thread.
INLINE_READ_OPTION = "homecraft_inline_read"
INLINE_READ: dict[str, Any] = {INLINE_READ_OPTION: True}

_Outcome = tuple[Any, int, "int | None", "list[Any] | None", bool]


def _statement(connection: sqlite3.Connection, operation: Any, parameters: Any, many: bool) -> _Outcome:
    """Run one statement to the end: (description, rowcount, lastrowid, rows, in a transaction now)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows, connection.in_transaction
    finally:
        cursor.close()


def _first_write(connection: sqlite3.Connection, operation: Any, parameters: Any, many: bool) -> _Outcome | None:
    """A transaction's first write run on the calling thread if SQLite's write lock can be taken at once
    (busy timeout 0 for this statement); None when another connection holds it (SQLITE_BUSY: nothing was
    written, the statement is to be run again where waiting is allowed)."""
    timeout = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute("PRAGMA busy_timeout=0")
    try:
        return _statement(connection, operation, parameters, many)
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return None
        raise
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(timeout)}")


def _release_key(key: int) -> None:
    """The connection ``id(adapted connection)`` ended its write transaction: give the queue to the next
    writer (once: a second call finds nothing held)."""
    _writing.discard(key)
    _waited.pop(key, None)
    queue = _held.pop(key, None)
    if queue is not None and queue.lock.locked():
        queue.release()


def _is_write(statement: str) -> bool:
    return statement.lstrip()[:7].upper().startswith(_SQLITE_WRITES)


class _OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A statement in at most ONE trip to aiosqlite's connection thread instead of three or four.

    SQLAlchemy's aiosqlite adapter makes a thread round trip to open the cursor, one to execute, one
    to fetch the rows and one to close it. Each trip wakes the connection's thread, hands the GIL
    over and back and wakes the event loop through its self-pipe (and, on a loaded machine, waits for
    the scheduler to run that thread): on a busy service that was a quarter of the event loop's time
    (issue 12, decision 0306). Here one function opens a sqlite3 cursor, executes, fetches every row,
    notes description, rowcount and lastrowid, and closes it; results are buffered, exactly as the
    adapter's non-server-side cursor already did.

    Where it runs:
    - on the connection's thread (one trip) until the transaction has written: a read never blocks
      the event loop, and the first write, which takes SQLite's write lock (and may meet another
      process's writer in the busy handler), waits there;
    - on the event loop's thread, with no trip at all, once the transaction has written: it holds
      SQLite's only write lock (and this process's write queue), so its statements cannot wait for a
      lock and no other writer can run meanwhile anyway. COMMIT and ROLLBACK (the fsync) go to the
      thread when there is a transaction to end (``_OneHopConnection``);
    - on the event loop's thread too for a read its caller marked ``INLINE_READ`` (a bounded point read
      on a hot path, decision 0205).
    The connection is opened with ``check_same_thread=False``; it is still used by one thread at a
    time (the adapter's per-connection mutex is free whenever a statement runs inline).
    """

    __slots__ = ("_arraysize", "_description", "_inline", "_lastrowid", "_rowcount")

    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: Any) -> None:  # no trip: the sqlite3 cursor is opened per statement
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1
        self._inline = False  # set per statement by the dialect (``INLINE_READ``)

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def close(self) -> None:
        self._rows.clear()

    def _keep(self, outcome: _Outcome, operation: Any) -> None:
        self._description, self._rowcount, self._lastrowid, rows, in_transaction = outcome
        self._rows = collections.deque(rows) if rows is not None else collections.deque()
        if in_transaction and _is_write(operation):
            # A write succeeded: this transaction holds SQLite's write lock (and the write queue) now.
            key = id(self._adapt_connection)
            if key in _held:
                _writing.add(key)

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        aio = self._connection
        key = id(self._adapt_connection)
        async with self._adapt_connection._execute_mutex:  # free: taken without a suspension
            if key in _writing or self._inline:
                # Inline, no await: the coroutine completes without giving the event loop a turn.
                outcome = _statement(aio._conn, operation, parameters, many)
            elif key in _held and _is_write(operation) and (
                    first := _first_write(aio._conn, operation, parameters, many)) is not None:
                # The transaction's first write, holding this process's write queue: tried on the loop's
                # thread without waiting for SQLite's lock (decision 0206); only another process's writer
                # can hold it, and then the write goes to the thread and waits there, as before.
                outcome = first
            else:
                outcome = await aio._execute(lambda: _statement(aio._conn, operation, parameters, many))
        self._keep(outcome, operation)

    def _ran_inline(self, operation: Any, parameters: Any, many: bool) -> bool:
        """Run the statement here and now when called without SQLAlchemy's greenlet (``connections.execute``)
        and it runs inline anyway (no await needed); False: it goes the adapter's way."""
        if in_greenlet() or not (self._inline or id(self._adapt_connection) in _writing) \
                or self._adapt_connection._execute_mutex.locked():
            return False
        try:
            self._keep(_statement(self._connection._conn, operation, parameters, many), operation)
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        return True

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        return None if self._ran_inline(operation, parameters, False) else super().execute(operation, parameters)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        if self._ran_inline(operation, seq_of_parameters, True):
            return None
        return super().executemany(operation, seq_of_parameters)

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, many=True)


class _OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """One trip per statement (``_OneHopCursor``), and none for a COMMIT or ROLLBACK with nothing to end.

    pysqlite opens a transaction only before a write, so a connection that only read (a lookup, a
    placement's key check) is not in one: its COMMIT or ROLLBACK (the pool's reset when it is given back)
    would do nothing on the connection's thread, yet cost a trip there. ``in_transaction`` is read on the
    event loop's thread while no statement of this connection runs (SQLAlchemy uses it one caller at a time).
    """

    __slots__ = ()
    _cursor_cls = _OneHopCursor

    def _has_transaction(self) -> bool:
        sqlite = self._connection._connection
        return sqlite is None or sqlite.in_transaction  # closed: let aiosqlite's own path answer

    def rollback(self) -> None:
        if self._has_transaction():
            super().rollback()

    def commit(self) -> None:
        if not self._has_transaction():
            return
        aio = self._connection
        if aio._connection is None:  # closed: aiosqlite's own path raises what it raises
            super().commit()
            return
        key, loop, sqlite = id(self), asyncio.get_running_loop(), aio._conn

        def commit_and_hand_over() -> None:
            sqlite.commit()
            # SQLite's write lock is free from here: hand this process's write queue to its next writer
            # now, not once this connection's task has been resumed (a turn of the loop later: with the
            # loop busy, a millisecond or more of a lock that every writer of the process waits for).
            if key in _held:
                loop.call_soon_threadsafe(_release_key, key)

        try:
            await_only(aio._execute(commit_and_hand_over))
        except Exception as error:
            self._handle_exception(error)


class _OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        adapted.__class__ = _OneHopConnection  # same slots; only the cursor class differs
        return adapted


class SerializedWritesSQLiteDialect(SQLiteDialect_aiosqlite):
    """aiosqlite, with the writers of this process queued for SQLite's one write lock.

    SQLite has one writer at a time. Without this, concurrent transactions of one process (requests,
    the relay, consumers) all try to take the lock and the losers sleep in SQLite's busy handler,
    which backs off up to 100 ms per try and does not wake when the lock is freed: most of the time
    is spent asleep while the database is idle. Here a transaction's first write (where pysqlite
    begins the transaction) waits in an ``asyncio.Lock`` per database file instead, and the commit or
    rollback hands it to the next writer at once. Readers are never queued (WAL). Other processes
    still meet the busy handler (``busy_timeout``), as before.
    """

    supports_statement_cache = True
    _database = ""

    @classmethod
    def import_dbapi(cls) -> AsyncAdapt_aiosqlite_dbapi:
        return _OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))

    def create_connect_args(self, url: URL) -> Any:
        self._database = str(Path(url.database).resolve()) if url.database and url.database != ":memory:" else ""
        return super().create_connect_args(url)

    def _queue(self) -> _WriteQueue | None:
        if not self._database:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        queues = _write_queues.setdefault(loop, {})
        queue = queues.get(self._database)
        if queue is None:
            queue = queues[self._database] = _WriteQueue(self._database)
        return queue

    def _before(self, statement: str, context: ExecutionContext | None) -> None:
        if context is None or not _is_write(statement):
            return
        connection = context.root_connection.connection.dbapi_connection
        if connection is None or id(connection) in _held:
            return
        queue = self._queue()
        if queue is None:
            return
        _waited[id(connection)] = await_only(queue.acquire())
        _held[id(connection)] = queue

    @staticmethod
    def _release(connection: DBAPIConnection | None) -> None:
        # Called with the pool's proxy (commit, rollback) or the DBAPI connection itself (close).
        _release_key(id(getattr(connection, "dbapi_connection", connection)))

    def do_execute(self, cursor: DBAPICursor, statement: str, parameters: Any,
                   context: ExecutionContext | None = None) -> None:
        self._before(statement, context)
        adapted: Any = cursor  # the adapter's cursor (SQLAlchemy types it as a DBAPI cursor)
        if isinstance(adapted, _OneHopCursor):
            adapted._inline = (context is not None and bool(context.execution_options.get(INLINE_READ_OPTION))
                               and not _is_write(statement))
        super().do_execute(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_executemany(self, cursor: DBAPICursor, statement: str, parameters: Any,
                       context: ExecutionContext | None = None) -> None:
        self._before(statement, context)
        super().do_executemany(cursor, statement, parameters, context)  # type: ignore[no-untyped-call]

    def do_execute_no_params(self, cursor: DBAPICursor, statement: str,
                             context: ExecutionContext | None = None) -> None:
        self._before(statement, context)
        super().do_execute_no_params(cursor, statement, context)  # type: ignore[no-untyped-call]

    def do_commit(self, dbapi_connection: DBAPIConnection) -> None:
        try:
            super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: DBAPIConnection) -> None:
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_close(self, dbapi_connection: DBAPIConnection) -> None:
        try:
            super().do_close(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_terminate(self, dbapi_connection: DBAPIConnection) -> None:
        try:
            super().do_terminate(dbapi_connection)
        finally:
            self._release(dbapi_connection)


registry.register("sqlite.homecraft_aiosqlite", __name__, "SerializedWritesSQLiteDialect")


class InlineReads:
    """A hot path's short reads (``INLINE_READ``) without a pool checkout per read (decision 0206).

    On SQLite an inline read runs to its end on the event loop's thread without giving the loop a turn,
    so two of them can never overlap on one connection: one connection, checked out once and kept for
    the process, serves them all, and the per-read checkout and return (pool bookkeeping, the reset,
    SQLAlchemy's connection set-up: about a quarter of the catalog lookup's database time) is saved.
    Freshness is unchanged: pysqlite opens no transaction for a SELECT, so every read sees the latest
    commit (WAL), and the SQLAlchemy-level transaction is ended after each read (no trip: nothing is
    open, ``_OneHopConnection``). Should a read ever be running when another asks (it would have to
    suspend, which an inline read does not), the other takes a pooled connection of its own, as do
    reads on any other database (each a checkout, as before). Only for statements marked ``INLINE_READ``
    and bounded by their caller; ``aclose`` gives the kept connection back (the service's shutdown).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._inline = engine.dialect.name == "sqlite"
        self._kept: AsyncConnection | None = None
        self._busy = False
        self.pooled_reads = 0  # reads that took a pooled connection (for tests and figures)

    async def all(self, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Sequence[Row[*tuple[Any, ...]]]:
        """Every row ``statement`` answers (marked ``INLINE_READ``), read now."""
        if not self._inline or self._busy:
            self.pooled_reads += 1
            async with self._engine.connect() as connection:
                return (await connection.execute(statement, parameters)).all()
        self._busy = True
        try:
            if self._kept is None or self._kept.closed or self._kept.invalidated:
                self._kept = await self._engine.connect()
            try:
                return (await self._kept.execute(statement, parameters)).all()
            finally:
                await self._kept.rollback()  # ends SQLAlchemy's transaction; pysqlite has none open
        finally:
            self._busy = False

    async def aclose(self) -> None:
        if self._kept is not None:
            kept, self._kept = self._kept, None
            await kept.close()


def write_lock_wait(connection: AsyncConnection) -> float:
    """Seconds the current write transaction of ``connection`` waited for this process's SQLite write
    queue (0 when it has not written yet, or on other databases)."""
    fairy = connection.sync_connection.connection if connection.sync_connection is not None else None
    return _waited.get(id(fairy.dbapi_connection), 0.0) if fairy is not None else 0.0


def write_lock_held() -> float:
    """Seconds the current asyncio task's write transaction has held this process's SQLite write queue
    (0 when it holds none, or on other databases): a long transaction can commit early and let the other
    writers (a webhook's group commit) in (decision 0309)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return 0.0
    task = asyncio.current_task()
    for queue in _write_queues.get(loop, {}).values():
        if task is not None and queue.holder_task is task and queue.lock.locked():
            return time.perf_counter() - queue.held_since
    return 0.0


def runs_inline(connection: AsyncConnection) -> bool:
    """True when a statement on ``connection`` would run to its end on the event loop's thread without
    suspending: a SQLite transaction that has written (it holds the write lock, ``_OneHopCursor``), with
    no other statement of it under way. Such a statement needs no greenlet (``connections.execute``)."""
    sync = connection.sync_connection
    fairy = getattr(sync, "_dbapi_connection", None) if sync is not None else None
    adapted = getattr(fairy, "dbapi_connection", None)
    return (adapted is not None and id(adapted) in _writing
            and not adapted._execute_mutex.locked())


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        parsed = make_url(url)
        database = parsed.database if parsed.database != ":memory:" else None  # a file, or None: in memory
        if database:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Enough pooled connections for a busy process's concurrent requests: past the pool, every
            # overflow connection is opened (a thread and four pragmas) and closed again per checkout.
            kwargs = _with_pool_defaults(kwargs, pool_size=20)
        engine = create_async_engine(parsed.set(drivername="sqlite+homecraft_aiosqlite"),
                                     connect_args={"timeout": SQLITE_LOCK_TIMEOUT_SECONDS, "check_same_thread": False}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        if database:  # the WAL checkpoint off the commit path (decision 0310)
            sqlite_checkpoint.attach(engine, str(Path(database).resolve()))
        return engine
    engine = create_async_engine(url, **_with_pool_defaults(kwargs, pool_size=10, max_overflow=10))
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine, "checkout", _replace_closed_connection)
    return engine


def _with_pool_defaults(kwargs: dict[str, Any], **defaults: int) -> dict[str, Any]:
    """The pool sizes, unless the caller chose the pool (``NullPool`` and ``StaticPool`` take no size; nor
    does the one connection SQLAlchemy keeps for an in-memory SQLite database, which gets no defaults)."""
    return kwargs if "poolclass" in kwargs else {**defaults, **kwargs}


def _replace_closed_connection(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """A pooled connection the server closed (a restart, ``pg_terminate_backend``, an idle timeout) is
    replaced at checkout. Instead of ``pool_pre_ping``, which on asyncpg is three round trips per
    checkout (BEGIN, a query, ROLLBACK: about an eighth of the payments webhook path's statements,
    decision 0314): the driver already knows such a connection is closed, because the event loop read
    its end of the socket. One lost without a word (a broken network) fails its first statement
    instead, and SQLAlchemy discards the pool: that request fails, the consumer and the relay retry."""
    driver = record.driver_connection
    if driver is not None and driver.is_closed():
        raise DisconnectionError("the database server closed this pooled connection")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss, after their
    # events were published and acted on elsewhere (decision 0002).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_of(session: AsyncSession) -> str:
    """The database behind ``session``: "sqlite" or "postgresql"."""
    return session.get_bind().dialect.name


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush, turning a unique-constraint violation into a 409 with ``message``.

    For the race a check-then-insert leaves open: two requests both found the name free, and the
    database's constraint decides. The request's transaction is rolled back by its owner.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
