"""What the benchmarks share: a service under uvicorn in its own process group, waiting for its
readiness, and the single-row commit rate that puts a service's figures in proportion."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Collection, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from homecraft_shared.db import create_engine, utcnow
from homecraft_shared.testing.infra import free_port

# The benches bulk-load their data (100,000 orders, millions of events) in long write transactions on
# purpose; the engine's warning about a long hold of the SQLite write lock (decision 0309) is for the
# services, and here it would only bury the figures under one line per loaded chunk.
logging.getLogger("homecraft_shared.db").setLevel(logging.ERROR)


@contextlib.contextmanager
def uvicorn_service(
    service: str, env: Mapping[str, str], workdir: Path, *, workers: int = 1, factory: str | None = None
) -> Iterator[str]:
    """``<service>.app:create_app`` (or ``factory``) under uvicorn on a free loopback port (output in
    ``workdir/<service>.log``); yields its base URL; stops its whole process group on exit."""
    port = free_port()
    log = open(workdir / f"{service}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", factory or f"{service}.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=workdir, start_new_session=True,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, log: Path | None = None,
               within_seconds: float = 90.0) -> None:
    """Until ``url/readyz`` answers 200; exits with the log's tail if the process died or time ran out."""
    deadline = time.monotonic() + within_seconds
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise SystemExit(f"{url} did not start:\n{tail}")
        time.sleep(0.2)


def _single_row_table() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    table = sa.Table("bench_single_row", metadata, sa.Column("id", sa.String(36), primary_key=True),
                     sa.Column("at", sa.DateTime(timezone=True)))
    return metadata, table


async def commit_rate(database_url: str, count: int, concurrency: int) -> float:
    """Single-row transactions per second on this database: the ceiling any write path works under."""
    engine = create_engine(database_url)
    metadata, table = _single_row_table()
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    queue = list(range(count))

    async def writer() -> None:
        while queue:
            queue.pop()
            async with engine.begin() as connection:
                await connection.execute(table.insert().values(id=str(uuid.uuid4()), at=utcnow()))

    started = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(concurrency)))
    rate = count / (time.perf_counter() - started)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
    await engine.dispose()
    return rate


async def open_loop(count: int, rate: float, one: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Start ``one()`` ``count`` times at ``rate`` per second whether or not the earlier ones finished (an
    open loop, as real arrivals are), then wait for all of them."""
    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)


async def paced_commit_latencies(database_url: str, rate: float, count: int) -> list[float]:
    """Single-row transactions started at ``rate`` per second (open loop), each one's start to its commit's
    return in ms, sorted: what one commit alone costs on this database and disk in these minutes, the floor
    under any write path's latency measured beside it."""
    engine = create_engine(database_url)
    metadata, table = _single_row_table()
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    latencies: list[float] = []

    async def commit_one() -> None:
        started = time.perf_counter()
        async with engine.begin() as connection:
            await connection.execute(table.insert().values(id=str(uuid.uuid4()), at=utcnow()))
        latencies.append((time.perf_counter() - started) * 1000)

    await open_loop(count, rate, commit_one)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.drop_all)
    await engine.dispose()
    return sorted(latencies)


def _process_cpu_seconds(stat: str) -> tuple[str, float]:
    """(command name, CPU seconds incl. reaped children) from a /proc/<pid>/stat line."""
    name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    return name, sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuBudget:
    """Whose CPU a phase used (Linux /proc; nothing elsewhere): each group's processes -- by pid(s), or by
    command name -- and the whole machine's busy time, so that a figure bound by CPU says whose CPU it was.
    A process's reaped children count towards it (PostgreSQL's ended backends towards the postmaster)."""

    def __init__(self, pids: Mapping[str, int | Collection[int]], names: Mapping[str, str]) -> None:
        self.pids, self.names = pids, names
        self.used: dict[str, float] = {}
        self.busy = 0.0
        self._start: tuple[dict[str, float], float] | None = None

    def _sample(self) -> tuple[dict[str, float], float]:
        groups = dict.fromkeys([*self.pids, *self.names], 0.0)
        by_pid = {pid: group for group, pids in self.pids.items()
                  for pid in ([pids] if isinstance(pids, int) else pids)}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                name, seconds = _process_cpu_seconds((entry / "stat").read_text())
            except (OSError, ValueError):  # ended meanwhile
                continue
            group = by_pid.get(int(entry.name)) or next((g for g, n in self.names.items() if n == name), None)
            if group is not None:
                groups[group] += seconds
        cpu = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        busy = (sum(cpu) - cpu[3] - cpu[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        return groups, busy

    def __enter__(self) -> CpuBudget:
        if Path("/proc/stat").exists():
            self._start = self._sample()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._start is not None:
            (groups, busy), (before, busy_before) = self._sample(), self._start
            self.used = {group: seconds - before[group] for group, seconds in groups.items()}
            self.busy = busy - busy_before

    def summary(self, per: int, unit: str, elapsed: float) -> str:
        """Each group's CPU in ms per ``unit``, the rest of the machine's, and how many CPUs were busy."""
        if not self.used:
            return "not measured (no /proc)"
        parts = [f"{group} {seconds * 1000 / per:.2f}" for group, seconds in self.used.items()]
        rest = self.busy - sum(self.used.values())
        return (f"{', '.join(parts)}, everything else {rest * 1000 / per:.2f} ms per {unit}; the machine was busy "
                f"{self.busy / elapsed:.2f} of {os.cpu_count()} CPUs")


class DiskStalls:
    """The disk's own stalls while a phase runs: a thread writes 4 KiB into a scratch file in ``directory``
    (beside the database, same filesystem) and fdatasyncs it every ``every`` seconds, recording each sync
    that took over ``over`` ms (when it started, epoch seconds, and how long). A write path's latency tail
    that coincides with these is the disk's, not the code's (the VM's disk stalls for up to ~0.7 s with
    nothing else running: decision 0312)."""

    def __init__(self, directory: Path, every: float = 0.01, over: float = 50.0) -> None:
        self.path = directory / "disk-stall-probe"
        self.every = every
        self.over = over
        self.syncs: list[float] = []
        self.stalls: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._probe, name="disk-stall-probe", daemon=True)

    def _probe(self) -> None:
        block = b"\0" * 4096
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        try:
            position = 0
            while not self._stop.wait(self.every):
                started, began = time.time(), time.perf_counter()
                os.pwrite(fd, block, position)
                os.fdatasync(fd)
                took = (time.perf_counter() - began) * 1000
                self.syncs.append(took)
                if took > self.over:
                    self.stalls.append((started, took))
                position = (position + len(block)) % (256 * len(block))
        finally:
            os.close(fd)
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> DiskStalls:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def overlaps(self, start: float, end: float, longer_than: float = 100.0) -> bool:
        """Whether a stall over ``longer_than`` ms happened while [start, end] (epoch seconds) was under way."""
        return any(at < end and at + took / 1000 > start for at, took in self.stalls if took > longer_than)

    def summary(self) -> str:
        ordered = sorted(self.syncs) or [0.0]
        return (f"{len(self.syncs)} fdatasyncs of 4 KiB: p50 {ordered[len(ordered) // 2]:.1f} ms, longest "
                f"{ordered[-1]:.1f} ms, {sum(took > 100 for _, took in self.stalls)} over 100 ms")
