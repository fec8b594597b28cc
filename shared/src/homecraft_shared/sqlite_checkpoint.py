"""SQLite's WAL checkpoint off the commit path (issue 12, decision 0310).

By default SQLite checkpoints inside the COMMIT that takes the WAL past 1000 frames: that commit copies
the WAL's pages into the database file and fsyncs it while its transaction still holds the write lock,
so every writer queued behind it (a webhook's group commit) waits for the copy and the fsync
(decision 0309 measured 0.5-1.2 s COMMITs). Here, for every SQLite *file* engine of the process:

- its connections get ``PRAGMA wal_autocheckpoint=SAFETY_NET_PAGES`` (10,000 pages): a safety net, so
  the WAL stays bounded should the background checkpointer stall. Under sustained writes it is also what
  starts the WAL again (a background pass rarely finds a moment with every frame copied and no writer),
  then with a small checkpoint: the background has copied and flushed nearly everything;
- one background checkpointer per database file per process (however many engines use the file) runs
  ``PRAGMA wal_checkpoint(PASSIVE)`` on its own sqlite3 connection every ``INTERVAL_SECONDS``, and at once
  again (up to ``CATCH_UP_PASSES`` in a row) while writers add frames during its passes: the WAL is
  started again from its beginning by the next writer only once every frame has been copied. PASSIVE
  never takes the write lock and never waits for readers or writers; the work (copying pages, fsyncing
  the database file, with the GIL released) happens on the checkpointer's daemon thread, never on an
  event loop. A pass with nothing to copy costs a few lock calls and no I/O. After a tick that copied
  frames the database file is fdatasynced (SQLite syncs it only after a pass that copied the whole WAL).

One thread serves every file of the process; it starts with the first file engine's first connection
and ends when no engine uses any file (each engine is forgotten when it is disposed or garbage
collected, a file when it no longer exists). ``:memory:`` databases and other databases are untouched.

Durability is SQLite's own: the checkpointer's connection runs ``synchronous=FULL`` like the services'
(decision 0002), a checkpoint only copies committed frames, and SQLite fsyncs the database file before
the WAL may be overwritten. Operator figures: ``homecraft_sqlite_checkpoints_total`` and
``homecraft_sqlite_checkpointed_pages_total`` on ``/metrics``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import struct
import threading
import urllib.parse
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from homecraft_shared.observability import counter

logger = logging.getLogger(__name__)

# The services' connections still checkpoint in their commit past this many frames (a WAL of ~40 MB at
# 4 KiB pages): the bound if the background checkpointer stalls, and the WAL's restart under sustained writes.
SAFETY_NET_PAGES = 10_000
# How often the checkpointer checkpoints each file (decision 0310 has the figures behind the choice).
INTERVAL_SECONDS = 0.25
# Passes in a row while writers keep adding frames (SQLite fsyncs the database file only after a pass
# that copied the whole WAL; a pass that others' commits overtook is followed at once by a shorter one).
CATCH_UP_PASSES = 3

CHECKPOINTS = counter("homecraft_sqlite_checkpoints_total",
                      "WAL checkpoints (PASSIVE) run by the background checkpointer, off the commit path.")
CHECKPOINTED_PAGES = counter("homecraft_sqlite_checkpointed_pages_total",
                             "WAL frames (page images) the background checkpointer copied into the database file.")

# The wal-index header at the start of the -shm file (https://www.sqlite.org/walformat.html), native
# byte order: two copies of WalIndexHdr (48 bytes each; iVersion at 0, isInit at 12, mxFrame at 16),
# then WalCkptInfo (nBackfill at 96).
_HEADER_BYTES = 136
_WAL_INDEX_VERSION = 3007000
_HDR = struct.Struct("=I8xB3xI")  # iVersion, isInit, mxFrame
_BACKFILL = struct.Struct("=I")


class WalIndex:
    """(frames in the WAL, frames of them copied into the database file), read from a WAL database's
    wal-index header without taking a lock: for benches and tests, to see the checkpointer's effect.

    It keeps the ``-shm`` file open until ``close()``: closing any descriptor of a file releases every
    POSIX lock the process holds on it, SQLite's own included (its WAL locks live on the ``-shm``), so
    close it only once this process has no SQLite connection to the database left, or use it from a
    process that has none. The checkpointer itself never reads it.
    """

    def __init__(self, database: str) -> None:
        self._fd = os.open(f"{database}-shm", os.O_RDONLY)

    def frames(self) -> tuple[int, int] | None:
        """None while the header is being rewritten or is not (yet) a WAL index."""
        for _ in range(3):
            header = os.pread(self._fd, _HEADER_BYTES, 0)
            if len(header) < _HEADER_BYTES:
                return None
            if header[:48] != header[48:96]:  # a writer is between its two copies: read again
                continue
            version, initialised, in_wal = _HDR.unpack_from(header, 0)
            if version != _WAL_INDEX_VERSION or not initialised:
                return None
            (copied,) = _BACKFILL.unpack_from(header, 96)
            return in_wal, min(copied, in_wal)
        return None

    def close(self) -> None:
        os.close(self._fd)


@dataclass(eq=False)
class FileCheckpointer:
    """The background checkpointer's state for one database file of this process."""

    database: str
    engines: set[int] = field(default_factory=set)  # id() of the sync engines using it
    checkpoints: int = 0  # passes that copied frames
    pages: int = 0  # frames copied (approximate across the WAL's restarts)
    paused: bool = False  # for tests: the file is not checkpointed while set
    _connection: sqlite3.Connection | None = None
    _fd: int | None = None  # the database file, for fdatasync (``_flush``)
    _last: tuple[int, int] = (0, 0)  # (frames in the WAL, frames copied) after the last pass

    def tick(self) -> None:
        if self.paused:
            return
        if not os.path.exists(self.database):  # the file is gone (a test's temporary directory)
            _forget(self)
            return
        connection = self._connect()
        before = self.pages
        try:
            self._passes(connection)
        finally:
            if self.pages > before:
                self._flush()

    def _passes(self, connection: sqlite3.Connection) -> None:
        for _ in range(CATCH_UP_PASSES):
            _busy, in_wal, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if in_wal < 0:  # not (or no longer) a WAL database
                return
            last_in_wal, last_copied = self._last
            if in_wal < last_in_wal or (in_wal == last_in_wal and copied < last_copied):
                last_copied = 0  # the WAL was started again from its beginning since the last pass
            self._last = (in_wal, copied)
            if copied <= last_copied:
                return  # nothing new to copy: every frame is in the database file, or readers hold them back
            self.checkpoints += 1
            self.pages += copied - last_copied
            CHECKPOINTS.inc()
            CHECKPOINTED_PAGES.inc(copied - last_copied)
            if copied < in_wal:
                return  # a reader still uses the rest: the next tick tries again

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # mode=rw: never creates a database that is not there.
            uri = f"file:{urllib.parse.quote(self.database)}?mode=rw"
            connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            try:
                # A checkpoint fsyncs the WAL before copying and the database file after (decision 0002).
                connection.execute("PRAGMA synchronous=FULL")
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    def _flush(self) -> None:
        """fdatasync the database file: SQLite syncs it only after a pass that copied the whole WAL, which
        writers rarely leave time for under load (their commits overtake the pass); then the WAL is started
        again only by the commit that reaches SAFETY_NET_PAGES, whose checkpoint would fsync every page the
        passes copied since, holding the write lock. Flushed here, off the lock, that commit syncs little."""
        if self._fd is None:
            self._fd = os.open(self.database, os.O_RDONLY)
        os.fdatasync(self._fd)

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        if self._fd is not None:
            # Closing it releases this process's POSIX locks on the database file (SQLite's included), so
            # only now: the engines using the file are disposed and the checkpointer's connection closed.
            fd, self._fd = self._fd, None
            os.close(fd)


_lock = threading.Condition()
_files: dict[str, FileCheckpointer] = {}
_forgotten: list[FileCheckpointer] = []  # their connections are closed by the thread
_thread: threading.Thread | None = None


def checkpointer(database: str) -> FileCheckpointer | None:
    """The process's checkpointer of ``database`` (a resolved path), if an engine of the process uses it."""
    with _lock:
        return _files.get(database)


def databases() -> list[str]:
    """The files the process's checkpointer serves now."""
    with _lock:
        return list(_files)


def running() -> bool:
    """Whether the checkpointer thread is alive (it ends when no engine uses any file)."""
    with _lock:
        return _thread is not None and _thread.is_alive()


def attach(engine: AsyncEngine, database: str) -> None:
    """Checkpoint ``database`` (a resolved file path) in the background for ``engine``: from the engine's
    first connection until it is disposed (or collected); its connections get the safety-net
    ``wal_autocheckpoint``."""
    sync_engine = engine.sync_engine
    key = id(sync_engine)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        cursor.close()
        _use(database, key)

    def on_disposed(_engine: Engine) -> None:
        _release(database, key)

    event.listen(sync_engine, "connect", on_connect)
    event.listen(sync_engine, "engine_disposed", on_disposed)
    weakref.finalize(sync_engine, _release, database, key).atexit = False  # at exit the daemon thread just stops


def _use(database: str, key: int) -> None:
    global _thread
    starting = None
    with _lock:
        state = _files.get(database)
        if state is None:
            state = _files[database] = FileCheckpointer(database)
        state.engines.add(key)
        if _thread is None:
            _thread = starting = threading.Thread(target=_run, name="sqlite-checkpointer", daemon=True)
    # Started outside the lock: ``Thread.start`` waits for the new thread, and a garbage collection in that
    # thread may run an engine's finalizer (``_release``), which takes the lock (a CI run hung that way).
    if starting is not None:
        starting.start()


def _release(database: str, key: int) -> None:
    with _lock:
        state = _files.get(database)
        if state is None or key not in state.engines:
            return
        state.engines.discard(key)
        if not state.engines:
            del _files[database]
            _forgotten.append(state)
            _lock.notify()


def _forget(state: FileCheckpointer) -> None:
    with _lock:
        if _files.get(state.database) is state:
            del _files[state.database]
        _forgotten.append(state)


def _run() -> None:
    global _thread
    while True:
        with _lock:
            if not _files and not _forgotten:
                _thread = None
                return
            if not _forgotten:
                _lock.wait(INTERVAL_SECONDS)
            forgotten, _forgotten[:] = list(_forgotten), []
            files = list(_files.values())
        for state in forgotten:
            state.close()
        for state in files:
            try:
                state.tick()
            except Exception:  # keep checkpointing the other files; this one is tried next tick
                logger.warning("background WAL checkpoint failed", exc_info=True,
                               extra={"database": os.path.basename(state.database)})
                state.close()


def _after_fork_in_child() -> None:
    # The thread does not survive a fork; the child starts its own at its engines' next connection.
    global _thread, _lock
    _lock = threading.Condition()
    _thread = None
    _files.clear()
    _forgotten.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
