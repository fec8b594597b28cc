"""The search projection's reads from the catalog database: product documents and the change log.

``search_changes`` (migration 0020) is appended by triggers in the transaction of each change, so it
holds every change that committed. Sequence numbers are handed out before commit: on PostgreSQL a
transaction that started earlier can commit a lower number after a higher one was read. The reader
remembers such gaps for ``GAP_WAIT_SECONDS`` and reads them again (``ChangeCursor``); a gap that never
fills was a rolled-back transaction. (SQLite has one writer at a time: numbers commit in order.)
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.buyability import can_buy_clause
from catalog.models import Category, ListingStatus, Product, ProductImage, SearchChange
from catalog.search.categories import CategoryNode, CategoryTree
from catalog.search.schema import ProductDoc

LOAD_CHUNK = 5_000
CHANGES_BATCH = 20_000
GAP_WAIT_SECONDS = 10.0
MAX_GAPS = 10_000
KEEP_CHANGES = dt.timedelta(hours=1)
# The product id of a change-log row that says "the categories changed" (migration 0022).
CATEGORIES = uuid.UUID(int=0)


def _doc_select() -> sa.Select[*tuple[Any, ...]]:
    image = (
        sa.select(ProductImage.storage_key)
        .where(ProductImage.product_id == Product.id)
        .order_by(ProductImage.is_primary.desc(), ProductImage.sort_order, ProductImage.id)
        .limit(1)
        .scalar_subquery()
    )
    return sa.select(
        Product.id, Product.title, Product.short_description, Product.description, Product.kind,
        Product.category_id, Product.seller_id, Product.slug, Product.currency, Product.price_cents, Product.is_free,
        can_buy_clause().label("can_buy"), Product.is_trending, Product.is_featured, Product.trending_score,
        Product.avg_rating, Product.rating_count, Product.rating_sum, Product.created_at, image.label("image_key"),
    ).where(Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true())


def _doc(row: sa.Row[*tuple[Any, ...]]) -> ProductDoc:
    m = dict(row._mapping)
    m["kind"] = m["kind"].value
    m["short_description"] = m.pop("short_description")
    return ProductDoc(**m)


async def all_docs(session: AsyncSession) -> AsyncIterator[list[ProductDoc]]:
    """Every indexed (published, active) product, in chunks by id (keyset: constant cost per chunk)."""
    after: uuid.UUID | None = None
    while True:
        stmt = _doc_select().order_by(Product.id).limit(LOAD_CHUNK)
        if after is not None:
            stmt = stmt.where(Product.id > after)
        rows = (await session.execute(stmt)).all()
        if not rows:
            return
        yield [_doc(row) for row in rows]
        after = rows[-1].id


async def docs_for(session: AsyncSession, product_ids: Sequence[uuid.UUID]) -> list[ProductDoc]:
    """The documents of those of ``product_ids`` that are indexed (published, active) now."""
    docs: list[ProductDoc] = []
    for start in range(0, len(product_ids), LOAD_CHUNK):
        chunk = product_ids[start:start + LOAD_CHUNK]
        rows = await session.execute(_doc_select().where(Product.id.in_(chunk)))
        docs.extend(_doc(row) for row in rows)
    return docs


async def last_seq(session: AsyncSession) -> int:
    return int(await session.scalar(sa.select(sa.func.coalesce(sa.func.max(SearchChange.seq), 0))) or 0)


async def log_bounds(session: AsyncSession) -> tuple[int, int] | None:
    """The lowest and highest number in the log (None: empty). Pruning keeps the newest row, so a
    saved cursor below the lowest minus one may have missed pruned rows."""
    low, high = (await session.execute(sa.select(sa.func.min(SearchChange.seq), sa.func.max(SearchChange.seq)))).one()
    return None if low is None or high is None else (int(low), int(high))


async def indexed_count(session: AsyncSession) -> int:
    """How many products the index should hold (published and active)."""
    return int(await session.scalar(
        sa.select(sa.func.count()).select_from(Product)
        .where(Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true())
    ) or 0)


async def request_rebuild(session: AsyncSession) -> None:
    """Ask every running process to rebuild its index from the products table."""
    await session.execute(sa.insert(SearchChange).values(product_id=None, changed_at=dt.datetime.now(dt.UTC)))


async def prune(session: AsyncSession, now: dt.datetime) -> int:
    """Remove rows older than ``KEEP_CHANGES``, except the newest one (it tells a process that resumes
    a saved index whether the log still reaches back to it, see ``log_bounds``)."""
    newest = sa.select(sa.func.max(SearchChange.seq)).scalar_subquery()
    result = await session.execute(
        sa.delete(SearchChange).where(SearchChange.changed_at < now - KEEP_CHANGES, SearchChange.seq < newest)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def category_tree(session: AsyncSession) -> CategoryTree:
    rows = await session.execute(sa.select(
        Category.id, Category.type, Category.name, Category.slug, Category.parent_id, Category.is_active,
        Category.sort_order,
    ))
    return CategoryTree({
        row.id: CategoryNode(id=row.id, type=row.type.value, name=row.name, slug=row.slug, parent_id=row.parent_id,
                             is_active=bool(row.is_active), sort_order=row.sort_order)
        for row in rows
    })


@dataclass
class Changes:
    product_ids: set[uuid.UUID] = field(default_factory=set)
    rebuild: bool = False
    categories: bool = False

    def __bool__(self) -> bool:
        return self.rebuild or self.categories or bool(self.product_ids)


@dataclass
class ChangeCursor:
    """Where a process is in the change log: every number up to ``seq`` was read, except ``gaps``
    (numbers skipped, maybe still uncommitted, with when they were first missed)."""

    seq: int
    gaps: dict[int, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    async def read(self, session: AsyncSession) -> Changes:
        now = self.clock()
        for number, since in list(self.gaps.items()):
            if now - since > GAP_WAIT_SECONDS:
                del self.gaps[number]
        condition = SearchChange.seq > self.seq
        if self.gaps:
            condition = sa.or_(condition, SearchChange.seq.in_(list(self.gaps)))
        rows = (await session.execute(
            sa.select(SearchChange.seq, SearchChange.product_id).where(condition)
            .order_by(SearchChange.seq).limit(CHANGES_BATCH)
        )).all()
        changes = Changes()
        for seq, product_id in rows:
            if seq in self.gaps:
                del self.gaps[seq]
            elif seq > self.seq:
                for missing in range(self.seq + 1, min(seq, self.seq + 1 + MAX_GAPS)):
                    self.gaps[missing] = now
                self.seq = seq
            if product_id is None:
                changes.rebuild = True
            elif product_id == CATEGORIES:
                changes.categories = True
            else:
                changes.product_ids.add(product_id)
        while len(self.gaps) > MAX_GAPS:
            del self.gaps[min(self.gaps)]
        return changes
