"""The per-process search projection: built from the database at start-up, then kept current.

``SearchProjection.start`` (from a runtime start hook) builds a fresh index from the products table,
then the runtime runs ``follow`` as a supervised background loop: every ``poll_seconds`` it reads
the change log past its cursor, re-reads the changed products, and replaces or removes their
documents (one commit per batch). A product change
is findable in this process within about ``poll_seconds`` plus one commit (tested within 1 s); every
replica and every worker process does the same with its own index, so nothing is shared between
processes. A change-log row without a product (``python -m catalog reindex``) makes every process
rebuild its index from the products table in the background and switch to it when done.

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

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 600.0
ERROR_BACKOFF_SECONDS = 1.0


class SearchNotReady(RuntimeError):
    pass


class SearchProjection:
    def __init__(self, *, poll_seconds: float = 0.2, index_dir: Path | None = None) -> None:
        self.poll_seconds = poll_seconds
        self.index_dir = index_dir
        self._index: SearchIndex | None = None
        self._cursor: ChangeCursor | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._lock = asyncio.Lock()
        self._last_prune = 0.0
        self.failed = False

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
        """Build the index; then run ``follow`` as a background loop."""
        self._sessionmaker = sessionmaker
        async with self._lock:
            await self._rebuild()

    async def stop(self) -> None:
        """Remove the index (after ``follow`` was cancelled)."""
        if self._index is not None:
            await asyncio.to_thread(self._index.close)
            self._index = None

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
            await asyncio.to_thread(self.index.apply, docs, ids)
            return len(ids) >= changes.CHANGES_BATCH

    async def _rebuild(self) -> None:
        """A new index from the products table; searches use the old one until it is done."""
        assert self._sessionmaker is not None
        started = time.perf_counter()
        index = SearchIndex(self.index_dir)
        try:
            async with self._sessionmaker() as session:
                cursor = ChangeCursor(await changes.last_seq(session))  # changes from here are replayed
                total = 0
                async for docs in changes.all_docs(session):
                    total += await asyncio.to_thread(index.add_all, docs)
            await asyncio.to_thread(index.commit)
        except BaseException:
            await asyncio.to_thread(index.close)
            raise
        old, self._index, self._cursor = self._index, index, cursor
        if old is not None:
            await asyncio.to_thread(old.close)
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
