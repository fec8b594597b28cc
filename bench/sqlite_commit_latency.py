"""SQLite commit latency at a fixed open-loop rate, with the WAL checkpoint inside the commit (SQLite's
default: the commit that takes the WAL past 1000 frames copies it into the database file and fsyncs it,
holding the write lock) and off it (decision 0310: the background checkpointer), alternated in one run.

Each round runs both ways on a fresh database file: N single-row transactions (a ``size``-byte blob and
an index on it) started at ``rate`` per second through ``homecraft_shared.db.create_engine``; latency is
from a transaction's start to its commit's return (waits in the process's write queue included).

    .venv/bin/python bench/sqlite_commit_latency.py                 # 3 rounds, 4000 commits at 500/s
    .venv/bin/python bench/sqlite_commit_latency.py --rate 300 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from benchkit import open_loop
from sqlalchemy import event

from homecraft_shared import sqlite_checkpoint
from homecraft_shared.db import create_engine


def wal_size_kib(path: Path) -> int:
    return os.stat(f"{path}-wal").st_size // 1024


async def run(directory: Path, in_commit: bool, count: int, rate: float, size: int) -> tuple[list[float], int, int]:
    """(sorted latencies in ms, the WAL's size in KiB at the end, background checkpoints)."""
    path = directory / ("in-commit.db" if in_commit else "background.db")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    if in_commit:
        def default_checkpoint(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA wal_autocheckpoint=1000")  # SQLite's default, inside the commit
            cursor.close()

        event.listen(engine.sync_engine, "connect", default_checkpoint)
    async with engine.begin() as connection:
        await connection.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)"))
        await connection.execute(sa.text("CREATE INDEX ix_t_b ON t (b)"))
    state = sqlite_checkpoint.checkpointer(str(path.resolve()))
    if in_commit and state is not None:
        state.paused = True
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(sa.text("INSERT INTO t (b) VALUES (randomblob(:size))"), {"size": size})
        latencies.append((time.perf_counter() - started) * 1000)

    await open_loop(count, rate, one)
    wal_kb = wal_size_kib(path)
    checkpoints = state.checkpoints if state is not None else 0
    await engine.dispose()
    return sorted(latencies), wal_kb, checkpoints


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def line(name: str, latencies: list[float], wal_kb: int, checkpoints: int) -> str:
    def at(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(len(latencies) * share))]

    return (f"  {name:<22} p50 {statistics.median(latencies):7.1f}  p99 {at(0.99):7.1f}  p99.9 {at(0.999):7.1f}  "
            f"max {latencies[-1]:7.1f} ms   WAL {wal_kb:6d} KiB, {checkpoints} background checkpoints")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=4000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--size", type=int, default=3000, help="bytes per row")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"SQLite commits at {args.rate:.0f}/s, {args.commits} per run ({os.cpu_count()} CPUs), alternating:")
    for round_ in range(1, args.rounds + 1):
        for in_commit in ((True, False) if round_ % 2 else (False, True)):  # ABBA: neither way always goes first
            with tempfile.TemporaryDirectory(prefix="commit-latency-") as tmp:
                load = load_average()
                figures = asyncio.run(run(Path(tmp), in_commit, args.commits, args.rate, args.size))
            name = f"{round_}: {'in the commit' if in_commit else 'background (0310)'}"
            print(line(name, *figures) + f"   load {load}")


if __name__ == "__main__":
    main()
