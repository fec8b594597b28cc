"""Group commit: the writes of concurrent requests gathered into one transaction and one commit.

A request hands its writes to ``GroupCommit.run(work)``: ``work(connection)`` runs inside a
transaction shared with whatever other requests of this process handed theirs in meanwhile, and
``run`` returns ``work``'s result only after the commit that holds its rows, so durability before a
2xx is kept. One transaction per batch instead of one per request: one BEGIN, one COMMIT (one fsync
on SQLite, one WAL flush on PostgreSQL), one pool checkout and, on SQLite, the process's write lock
taken once (decision 0204).

Work that can be done for many members at once subclasses ``WorkTogether``: the consecutive members
of a batch that ``joins`` each other run as one ``run_together`` call (a statement per table per
batch, not per request: on PostgreSQL each statement is a round trip the whole batch waits for).
``Inserts((table, rows), ...)`` is such work for rows that are only added: one multi-row INSERT per
table.

Batches form by themselves, with no timer: the first writer starts a drain task; everything that is
handed in while a batch waits for its connection or for the write lock (SQLite: another writer of the
process holds it) joins that batch once its first work has run (decision 0311); what is handed in
while it commits forms the next one (up to ``max_batch`` each). An idle service commits each write at
once, a busy one amortises the commit over many.

Isolation of failures: when any member's ``work`` raises, or the batch's commit fails, the batch is
rolled back and every member is run again alone, in its own transaction, and gets its own result or
exception. So ``work`` must only have database effects on the connection it is given (it may run
twice; the first run was rolled back) and must raise, not swallow, a database error (on PostgreSQL an
error aborts the whole transaction). A failed commit is ambiguous on a lost connection (PostgreSQL
may have committed); like a client's retry, the re-run then meets the database's own unique keys.

The caller must not hold this database's SQLite write lock itself while it waits (it would wait for
its own lock): write either in the request's session or through the group, not both. And the group
must not take its connection from the pool its callers hold theirs from while they wait (with as
many waiting requests as the pool has connections, nobody would move): ``GroupCommit.own_pool(url)``
gives it its own two connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import URL, Insert, Table
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from homecraft_shared.connections import execute
from homecraft_shared.db import create_engine, write_lock_wait
from homecraft_shared.observability import counter

logger = logging.getLogger(__name__)

# A batch slower than this (pool checkout to commit done) is logged as a JSON warning with where its time
# went, and counted (decision 0309): every request in it waited that long for its answer.
SLOW_BATCH_SECONDS = 0.2
SLOW_BATCHES = counter("homecraft_group_commit_slow_batches_total",
                       f"Group-commit batches that took over {SLOW_BATCH_SECONDS * 1000:.0f} ms (their requests waited).")

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[T]]


_INSERT_STATEMENTS: dict[Table, Insert] = {}


def _insert(table: Table) -> Insert:
    """One INSERT statement object per table, built once (its compiled form and cache key are reused)."""
    statement = _INSERT_STATEMENTS.get(table)
    if statement is None:
        statement = _INSERT_STATEMENTS[table] = table.insert()
    return statement


class WorkTogether(Generic[T]):
    """Work whose consecutive members in a batch run as one call: ``run_together(connection, members)``
    returns one result per member, in order. Run alone (a batch re-run member by member), a member is
    ``run_together`` of itself."""

    def joins(self, other: object) -> bool:
        """Whether ``other`` (the next member's work) can run in the same call as this one."""
        return type(other) is type(self)

    @classmethod
    async def run_together(cls, connection: AsyncConnection, members: Sequence[Any]) -> list[T]:
        raise NotImplementedError

    async def __call__(self, connection: AsyncConnection) -> T:
        return (await self.run_together(connection, [self]))[0]


class Inserts(WorkTogether[None]):
    """Work that only adds rows: ``(table, rows)`` pairs, parents first. Alone it is one INSERT per table;
    in a batch, the consecutive ``Inserts`` into the same tables are sent as one multi-row INSERT per
    table, in the same order (a placement's order, lines and timeline entry, times the batch). Every row
    of one table must name the same columns."""

    def __init__(self, *parts: tuple[Table, Sequence[Mapping[str, Any]]]) -> None:
        self.parts = parts
        self.tables = tuple(table for table, _ in parts)

    def joins(self, other: object) -> bool:
        return isinstance(other, Inserts) and other.tables == self.tables

    @classmethod
    async def run_together(cls, connection: AsyncConnection, members: Sequence[Inserts]) -> list[None]:
        for position, table in enumerate(members[0].tables):
            rows = [row for member in members for row in member.parts[position][1]]
            if rows:
                await execute(connection, _insert(table), rows)
        return [None] * len(members)


@dataclass
class _Job(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]


@dataclass
class GroupCommitStats:
    """What the group did so far (for tests and figures)."""

    batches: int = 0
    committed: int = 0
    largest_batch: int = 0
    reruns_alone: int = 0
    slow_batches: int = 0  # over SLOW_BATCH_SECONDS, each logged


class GroupCommit:
    """Concurrent writers of one database (one engine, one event loop) committed together."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 64, owns_engine: bool = False) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._engine = engine
        self._owns_engine = owns_engine
        self._max_batch = max_batch
        self._pending: deque[_Job[Any]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._closed = False
        self.stats = GroupCommitStats()

    @classmethod
    def own_pool(cls, database_url: str, *, max_batch: int = 64) -> GroupCommit:
        """A group on its own engine of two connections (batches are written one after another; the second
        serves a run alone while the first is given back), closed with the group. Its connections are
        never among those the requests waiting for it hold."""
        return cls(create_engine(database_url, pool_size=2, max_overflow=0), max_batch=max_batch, owns_engine=True)

    @property
    def database(self) -> URL:
        """The database its transactions write to."""
        return self._engine.url

    async def run(self, work: Work[T]) -> T:
        """``work(connection)`` committed, together with the other writers' work of this moment; its result
        once the commit holding its writes is done. Its exception (from a run alone) if it fails."""
        if self._closed:
            raise RuntimeError("the group commit is closed (the service is stopping)")
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(work, loop.create_future())
        self._pending.append(job)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain(), name="group-commit")
        # A caller that goes away (a client disconnect) leaves its job: started, it is committed like a
        # request whose commit had begun; not started yet, it is skipped.
        return await job.future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._take(self._max_batch)
            if batch:
                await self._commit(batch)

    def _take(self, most: int) -> list[_Job[Any]]:
        """Up to ``most`` of the waiting jobs, in order (those whose caller went away are dropped)."""
        taken: list[_Job[Any]] = []
        while self._pending and len(taken) < most:
            job = self._pending.popleft()
            if not job.future.done():
                taken.append(job)
        return taken

    async def _commit(self, batch: list[_Job[Any]]) -> None:
        started = time.perf_counter()
        checked_out = written = lock_wait = 0.0
        try:
            async with self._engine.connect() as connection:
                checked_out = time.perf_counter()
                async with connection.begin():
                    results = await _run_batch(connection, batch)
                    # The writers handed in while this batch waited (for its connection, or for the write lock
                    # its first work took) join it: their rows go into this commit, not a later turn of the lock.
                    while self._pending and len(batch) < self._max_batch:
                        joined = self._take(self._max_batch - len(batch))
                        batch.extend(joined)  # in place: a failure re-runs every member alone, these too
                        results.extend(await _run_batch(connection, joined))
                    lock_wait = write_lock_wait(connection)
                    written = time.perf_counter()
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exception=exc)
                return
            logger.info("group commit: a batch failed; its members run again alone",
                        extra={"batch": len(batch), "error": type(exc).__name__})
            self.stats.reruns_alone += len(batch)
            for job in batch:
                await self._alone(job)
            return
        except BaseException:  # cancelled (the service is stopping): nobody's writes were committed
            for job in batch:
                job.future.cancel()
            raise
        self.stats.batches += 1
        self.stats.committed += len(batch)
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for job, result in zip(batch, results, strict=True):
            _settle(job, result=result)
        done = time.perf_counter()
        if done - started > SLOW_BATCH_SECONDS:
            self._slow(len(batch), started, checked_out, lock_wait, written, done)

    def _slow(self, size: int, started: float, checked_out: float, lock_wait: float, written: float,
              done: float) -> None:
        self.stats.slow_batches += 1
        SLOW_BATCHES.inc()
        extra: dict[str, object] = {
            "batch": size, "total_ms": _ms(done - started), "checkout_ms": _ms(checked_out - started),
            "write_lock_wait_ms": _ms(lock_wait), "statements_ms": _ms(written - checked_out - lock_wait),
            "commit_ms": _ms(done - written)}
        database = self._engine.url.database
        if self._engine.dialect.name == "sqlite" and database and database != ":memory:":
            with contextlib.suppress(OSError):  # how far the WAL has grown (a commit may include a checkpoint)
                extra["wal_kb"] = os.stat(f"{database}-wal").st_size // 1024
        logger.warning("group commit: slow batch; its requests waited for it", extra=extra)

    async def _alone(self, job: _Job[Any]) -> None:
        try:
            async with self._engine.begin() as connection:
                result = await job.work(connection)
        except Exception as exc:
            _settle(job, exception=exc)
        else:
            self.stats.batches += 1
            self.stats.committed += 1
            _settle(job, result=result)

    async def aclose(self) -> None:
        """Refuse new work and finish what was handed in."""
        self._closed = True
        if self._drainer is not None and not self._drainer.done():
            await self._drainer
        if self._owns_engine:
            await self._engine.dispose()


async def _run_batch(connection: AsyncConnection, batch: list[_Job[Any]]) -> list[Any]:
    """Each member's work in order; consecutive ``WorkTogether`` members that join each other in one call."""
    results: list[Any] = []
    start = 0
    while start < len(batch):
        work = batch[start].work
        if not isinstance(work, WorkTogether):
            results.append(await work(connection))
            start += 1
            continue
        members: list[Any] = [work]
        while start + len(members) < len(batch) and work.joins(batch[start + len(members)].work):
            members.append(batch[start + len(members)].work)
        together = await work.run_together(connection, members)
        if len(together) != len(members):
            raise RuntimeError(f"{type(work).__name__}.run_together gave {len(together)} results for {len(members)}")
        results.extend(together)
        start += len(members)
    return results


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _settle(job: _Job[Any], *, result: Any = None, exception: BaseException | None = None) -> None:
    if job.future.done():  # its caller went away
        return
    if exception is not None:
        job.future.set_exception(exception)
    else:
        job.future.set_result(result)
