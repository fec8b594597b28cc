"""The per-process search projection: kept on disk between runs, caught up from the change log.

``SearchProjection.start`` (from a runtime start hook) takes the process's own slot directory
(``catalog.search.store``: locked, never shared between processes) and resumes the index saved
there: it opens it and applies the change-log rows past the saved number, then checks that the
index holds as many products as the database shows. It builds a new index from the products table
instead when there is none, it cannot be opened, it was built with another schema version or for
another database, or the log no longer reaches back to it (rows are pruned after an hour, so a
process that was down longer rebuilds), or the counts disagree after catching up.

The runtime then runs ``follow`` as a supervised background loop: every ``poll_seconds`` it reads
the change log past its cursor, re-reads the changed products, and replaces or removes their
documents (one commit per batch), then saves the cursor beside the index. A product change is
findable in this process within about ``poll_seconds`` plus one commit (tested within 1 s); every
replica and every worker process does the same with its own index. A change-log row without a
product (``python -m catalog reindex``) makes every process rebuild its index from the products
table in the background and switch to it when done.

Freshness before speed where they meet: ``refresh`` reads the change log at once (a caller that has
just committed, e.g. the tests' fixtures, waits for its own writes instead of a poll).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.search import changes
from catalog.search.changes import ChangeCursor
from catalog.search.index import SearchIndex
from catalog.search.schema import SCHEMA_VERSION
from catalog.search.store import IndexSlot, SavedState

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 600.0
ERROR_BACKOFF_SECONDS = 1.0


class SearchNotReady(RuntimeError):
    pass


class SearchProjection:
    """``index_root``: where this process's slot is taken (``catalog.search.store``); ``database``:
    what the index is a projection of (a saved index of another database is not resumed)."""

    def __init__(self, *, index_root: Path, database: str, poll_seconds: float = 0.2) -> None:
        self.poll_seconds = poll_seconds
        self.index_root = index_root
        self.database = database
        self._slot: IndexSlot | None = None
        self._index: SearchIndex | None = None
        self._cursor: ChangeCursor | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._lock = asyncio.Lock()
        self._last_prune = 0.0
        self.failed = False
        self.resumed = False  # this start resumed a saved index (no full build)

    @property
    def index(self) -> SearchIndex:
        if self._index is None:
            raise SearchNotReady("the search index is not built yet")
        return self._index

    @property
    def ready(self) -> bool:
        return self._index is not None

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Resume the saved index, or build one; then run ``follow`` as a background loop."""
        self._sessionmaker = sessionmaker
        self._slot = await asyncio.to_thread(IndexSlot.acquire, self.index_root)
        self.resumed = await self._resume()
        if not self.resumed:
            async with self._lock:
                await self._rebuild()

    async def stop(self) -> None:
        """Close the index, keeping it on disk for the next start (after ``follow`` was cancelled)."""
        async with self._lock:
            if self._index is not None:
                await asyncio.to_thread(self._index.close)
                self._index = None
            if self._slot is not None:
                self._slot.release()
                self._slot = None

    async def follow(self) -> None:
        while True:
            try:
                more = await self.refresh()
                self.failed = False
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database blip must not stop the index for good: log, wait, read the log again.
                logger.exception("search projection: catching up failed")
                self.failed = True
                await asyncio.sleep(ERROR_BACKOFF_SECONDS)
                continue
            if time.monotonic() - self._last_prune > PRUNE_EVERY_SECONDS:
                await self._prune()
            if not more:
                await asyncio.sleep(self.poll_seconds)

    # -- catching up ------------------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Apply every committed change not yet applied; True when a full batch suggests more."""
        assert self._sessionmaker is not None and self._cursor is not None
        async with self._lock:
            async with self._sessionmaker() as session:
                found = await self._cursor.read(session)
                if not found:
                    return False
                if found.rebuild:
                    await session.close()
                    await self._rebuild()
                    return False
                ids = sorted(found.product_ids)
                docs = await changes.docs_for(session, ids)
                tree = await changes.category_tree(session) if found.categories else None
            if ids:
                await asyncio.to_thread(self.index.apply, docs, ids)
            if tree is not None:
                self.index.set_categories(tree)
            await asyncio.to_thread(self._save)
            return len(ids) >= changes.CHANGES_BATCH

    async def catch_up(self) -> None:
        """Apply every committed change (all batches)."""
        while await self.refresh():
            pass

    async def _resume(self) -> bool:
        """Open the saved index and catch up from the change log; False when it must be rebuilt."""
        assert self._slot is not None and self._sessionmaker is not None
        saved = self._slot.load()
        if saved is None:
            return False
        if saved.schema_version != SCHEMA_VERSION or saved.database != self.database:
            logger.info("search index: saved for another schema version or database, rebuilding")
            return False
        async with self._sessionmaker() as session:
            bounds = await changes.log_bounds(session)
        # An empty log is only consistent with an index built before anything was logged (pruning keeps
        # the newest row); otherwise the saved number must lie within the log's reach.
        if (saved.seq != 0 if bounds is None else (saved.seq > bounds[1] or saved.seq + 1 < bounds[0])):
            logger.info("search index: the change log does not reach back to the saved index, rebuilding",
                        extra={"saved_seq": saved.seq, "log": bounds})
            return False
        directory = self._slot.directory / saved.index
        try:
            index = await asyncio.to_thread(SearchIndex, directory, create=False)
        except Exception:
            logger.warning("search index: the saved index cannot be opened, rebuilding", exc_info=True)
            return False
        now = time.monotonic()
        async with self._sessionmaker() as session:
            index.set_categories(await changes.category_tree(session))
        self._index = index
        self._cursor = ChangeCursor(saved.seq, gaps=dict.fromkeys(saved.gaps, now))
        started = time.perf_counter()
        try:
            await self.catch_up()
        except Exception:
            logger.warning("search index: catching up the saved index failed, rebuilding", exc_info=True)
            return False
        async with self._sessionmaker() as session:
            expected = await changes.indexed_count(session)
        if self.index.num_docs != expected:
            logger.warning("search index: %s documents after catching up, the database shows %s; rebuilding",
                           self.index.num_docs, expected)
            return False
        await asyncio.to_thread(self._slot.remove_others, self.index.directory)
        logger.info("search index resumed", extra={"products": expected, "from_seq": saved.seq,
                                                   "seconds": round(time.perf_counter() - started, 2)})
        return True

    def _save(self) -> None:
        """The index's state beside it (after its commit: it never claims more than the index holds)."""
        if self._slot is None or self._index is None or self._cursor is None:
            return
        self._slot.save(SavedState(
            schema_version=SCHEMA_VERSION, database=self.database, index=self._index.directory.name,
            seq=self._cursor.seq, gaps=sorted(self._cursor.gaps),
        ))

    async def _rebuild(self) -> None:
        """A new index from the products table; searches use the old one until it is done."""
        assert self._sessionmaker is not None and self._slot is not None
        started = time.perf_counter()
        index = SearchIndex(await asyncio.to_thread(self._slot.new_index_directory), create=True)
        try:
            async with self._sessionmaker() as session:
                cursor = ChangeCursor(await changes.last_seq(session))  # changes from here are replayed
                index.set_categories(await changes.category_tree(session))
                total = 0
                async for docs in changes.all_docs(session):
                    total += await asyncio.to_thread(index.add_all, docs)
            await asyncio.to_thread(index.commit)
        except BaseException:
            await asyncio.to_thread(index.close, remove=True)
            raise
        old, self._index, self._cursor = self._index, index, cursor
        await asyncio.to_thread(self._save)
        if old is not None:
            await asyncio.to_thread(old.close)
        await asyncio.to_thread(self._slot.remove_others, index.directory)
        logger.info("search index built", extra={"products": total, "seconds": round(time.perf_counter() - started, 2)})

    async def _prune(self) -> None:
        assert self._sessionmaker is not None
        self._last_prune = time.monotonic()
        try:
            async with self._sessionmaker() as session:
                await changes.prune(session, dt.datetime.now(dt.UTC))
                await session.commit()
        except Exception:
            logger.exception("search projection: pruning the change log failed")
