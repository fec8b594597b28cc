"""SQLite's WAL checkpoint off the commit path (issue 12, decision 0310): commits leave the checkpoint to
the background checkpointer, which copies every committed frame into the database file (durability, P4:
a stored webhook is never lost); the WAL stays bounded if the checkpointer stalls; one checkpointer per
file, gone with the engines or the file; other databases untouched.

SQLite by nature: these tests make their own SQLite files, so they run (and mean the same) in the
PostgreSQL suite too; the one that takes the suite's ``database_url`` checks that nothing is attached
to a PostgreSQL engine there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from homecraft_shared import sqlite_checkpoint
from homecraft_shared.db import create_engine, is_sqlite
from homecraft_shared.observability import render_counters
from homecraft_shared.sqlite_checkpoint import CHECKPOINTS, SAFETY_NET_PAGES, WalIndex, checkpointer

blobs = sa.Table("blobs", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True), sa.Column("data", sa.LargeBinary))


def resolved(path: Path | str) -> str:
    return str(Path(path).resolve())


def url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def insert(engine: AsyncEngine, size: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(blobs.insert().values(data=b"x" * size))


async def until(condition: object, what: str, within: float = 60.0) -> None:
    """Poll ``condition`` (a callable) until true; a timeout, not a timing assertion."""
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_commits_leave_the_checkpoint_to_the_background_checkpointer(tmp_path: Path) -> None:
    """With the checkpointer held back, 1,500+ WAL frames of commits copy nothing into the database file
    (SQLite's default would have checkpointed inside the commit that crossed 1,000 frames); let go, the
    checkpointer copies every frame, and the rows are in the database file itself (P4: nothing lost)."""
    path = tmp_path / "ckpt.db"
    engine = create_engine(url(path))
    index: WalIndex | None = None
    try:
        async with engine.begin() as connection:
            await connection.run_sync(blobs.metadata.create_all)
            assert (await connection.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == SAFETY_NET_PAGES
            assert (await connection.exec_driver_sql("PRAGMA synchronous")).scalar() == 2  # FULL (decision 0002)
        state = checkpointer(resolved(path))
        assert state is not None
        state.paused = True
        index = WalIndex(str(path))
        for _ in range(60):
            await insert(engine, 100_000)  # ~25 pages each
        frames = index.frames()
        assert frames is not None
        in_wal, copied = frames
        assert in_wal >= 1500, frames  # not started again: no commit checkpointed it
        assert copied == 0, frames  # the commit path copied nothing

        before = CHECKPOINTS.value
        state.paused = False

        def caught_up() -> bool:
            now = index.frames() if index is not None else None
            return now is not None and now[1] == now[0]

        await until(caught_up, "the checkpointer to copy every frame")
        assert state.checkpoints >= 1 and CHECKPOINTS.value > before
        assert state.pages >= in_wal
        assert 'homecraft_sqlite_checkpointed_pages_total{x="1"} ' in render_counters('x="1"')
        # The database file alone (no WAL beside it) has every committed row: they were copied into it.
        alone = tmp_path / "alone" / "ckpt.db"
        alone.parent.mkdir()
        shutil.copyfile(path, alone)
        with sqlite3.connect(alone) as copy:
            assert copy.execute("SELECT count(*) FROM blobs").fetchone()[0] == 60
    finally:
        await engine.dispose()
        if index is not None:
            index.close()  # after the engine's connections (closing it drops this process's -shm locks)


async def test_the_wal_stays_bounded_when_the_checkpointer_stalls(tmp_path: Path) -> None:
    """The safety net: with the background checkpointer stalled, the commits checkpoint once the WAL
    reaches SAFETY_NET_PAGES frames, so it is started again instead of growing without bound
    (512-byte pages keep the test's WAL small)."""
    path = tmp_path / "bounded.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA page_size=512")
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)")
    setup.close()
    engine = create_engine(url(path))
    index: WalIndex | None = None
    try:
        await insert(engine, 10)
        state = checkpointer(resolved(path))
        assert state is not None
        state.paused = True
        index = WalIndex(str(path))
        longest, restarts, last, written = 0, 0, 0, 0
        while written < SAFETY_NET_PAGES * 3 // 2:
            await insert(engine, 24_000)  # ~50 frames
            frames = index.frames()
            assert frames is not None
            if frames[0] < last:
                restarts += 1
            written += max(0, frames[0] - last) if frames[0] >= last else frames[0]
            last = frames[0]
            longest = max(longest, last)
        assert restarts >= 1
        assert SAFETY_NET_PAGES <= longest <= SAFETY_NET_PAGES + 200
        assert state.checkpoints == 0  # it was the commits' safety net, not the stalled checkpointer
    finally:
        await engine.dispose()
        if index is not None:
            index.close()


async def test_one_checkpointer_per_file_shared_by_its_engines_and_forgotten_with_them(tmp_path: Path) -> None:
    first, second, other = (create_engine(url(tmp_path / "a.db")), create_engine(url(tmp_path / "a.db")),
                            create_engine(url(tmp_path / "b.db")))
    a, b = resolved(tmp_path / "a.db"), resolved(tmp_path / "b.db")
    try:
        assert checkpointer(a) is None  # nothing before an engine's first connection
        for engine in (first, second, other):
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        state = checkpointer(a)
        assert state is not None and len(state.engines) == 2
        assert checkpointer(b) is not None and checkpointer(b) is not state
        assert sqlite_checkpoint.running()
        await first.dispose()
        assert checkpointer(a) is state  # the second engine still uses it
        await second.dispose()
        assert checkpointer(a) is None
        assert checkpointer(b) is not None
        async with second.connect():  # a disposed engine used again is served again
            assert checkpointer(a) is not None
    finally:
        for engine in (first, second, other):
            await engine.dispose()
    assert checkpointer(a) is None and checkpointer(b) is None


def test_the_checkpointer_thread_ends_when_no_engine_uses_a_file(tmp_path: Path) -> None:
    """One thread for every file, none left once the engines are disposed (a fresh process, so no other
    test's engine keeps it alive)."""
    script = f"""
import asyncio, json, threading
import sqlalchemy as sa
from homecraft_shared import sqlite_checkpoint
from homecraft_shared.db import create_engine

def threads():
    return sum(t.name == "sqlite-checkpointer" and t.is_alive() for t in threading.enumerate())

async def main():
    engines = [create_engine("sqlite+aiosqlite:///{tmp_path}/" + name) for name in ("a.db", "a.db", "b.db", "c.db")]
    for engine in engines:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
    during = (threads(), len(sqlite_checkpoint.databases()))
    for engine in engines:
        await engine.dispose()
    for _ in range(600):
        if not sqlite_checkpoint.running():
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.1)
    print(json.dumps({{"during": during, "after": (threads(), len(sqlite_checkpoint.databases()))}}))

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures == {"during": [1, 3], "after": [0, 0]}


def test_the_thread_is_started_without_holding_the_lock_a_finalizer_needs(tmp_path: Path) -> None:
    """``Thread.start`` waits for the new thread, and a garbage collection in that thread may run a collected
    engine's finalizer, which takes the module's lock: starting it while holding the lock hung a CI run.
    Here another thread takes the lock (as that finalizer) while the thread is being started; it must get it.
    (A fresh process, so that no other test's engine has started the thread already.)"""
    script = f"""
import asyncio, json, threading
import sqlalchemy as sa
from homecraft_shared import sqlite_checkpoint
from homecraft_shared.db import create_engine

finalizer_got_the_lock = []

Base = threading.Thread

class Thread(Base):
    def start(self):
        if self.name == "sqlite-checkpointer":
            finalizer = Base(target=sqlite_checkpoint.databases)
            finalizer.start()
            finalizer.join(timeout=5)
            finalizer_got_the_lock.append(not finalizer.is_alive())
        super().start()

sqlite_checkpoint.threading.Thread = Thread

async def main():
    engine = create_engine("sqlite+aiosqlite:///{tmp_path}/a.db")
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))
    running = sqlite_checkpoint.running()
    await engine.dispose()
    print(json.dumps({{"finalizer_got_the_lock": finalizer_got_the_lock, "running": running}}))

asyncio.run(main())
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"finalizer_got_the_lock": [True], "running": True}


async def test_a_file_that_is_gone_is_forgotten(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    engine = create_engine(url(path))
    try:
        await insert_table(engine)
        assert checkpointer(resolved(path)) is not None
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        await until(lambda: checkpointer(resolved(path)) is None, "the checkpointer to forget the file")
    finally:
        await engine.dispose()


async def insert_table(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(blobs.metadata.create_all)
        await connection.execute(blobs.insert().values(data=b"x"))


async def test_nothing_is_attached_to_other_databases(database_url: str) -> None:
    """PostgreSQL (the suite's database under --postgres): no checkpointer; SQLite: the file is served."""
    served = set(sqlite_checkpoint.databases())
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
        if is_sqlite(database_url):
            database = sa.make_url(database_url).database
            assert database is not None and resolved(database) in sqlite_checkpoint.databases()
        else:
            assert set(sqlite_checkpoint.databases()) == served
    finally:
        await engine.dispose()
