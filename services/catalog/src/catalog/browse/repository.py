"""The read side's queries. A list costs a fixed handful of statements whatever its size: the hidden
categories (once per request), the page of cards (buyability inside it, never looked up per card),
its total (or both in one for searches), the page's images, and the top-12 trending set (C7, C10).
The app's read cache (``catalog.browse.cache``) spares the request-independent ones for a few seconds.

Full-text search uses the ``products_fts`` side table that migration 0010 creates and its triggers
keep in sync: FTS5 + ``bm25`` on SQLite, ``tsvector`` + GIN + ``ts_rank`` on PostgreSQL (there in the
``search`` schema).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload

from catalog.browse.cache import NO_CACHE, BrowseCache
from catalog.browse.domain import ProductFilter, Sort
from catalog.browse.search import fts5_query, tsquery
from catalog.buyability import can_buy_clause
from catalog.images import repository as images
from catalog.models import CatalogType, Category, ListingStatus, Product, SellerRating

# bm25 column weights: a title hit counts most, then the short description, then the long one.
BM25_WEIGHTS = (10.0, 4.0, 1.0)


class Tier(enum.Enum):
    """Which full-text matches a search statement covers (see ``_relevance_ids``)."""

    ALL = "all"
    TITLE = "title"  # every term in the title
    REST = "rest"  # matches that are not title matches


@dataclass(frozen=True)
class CardRow:
    id: uuid.UUID
    title: str
    slug: str
    kind: CatalogType
    category_id: int
    seller_id: str
    price_cents: int
    currency: str
    is_free: bool
    rating_sum: int
    rating_count: int
    trending_score: float
    is_trending: bool
    created_at: dt.datetime
    can_buy: bool


@dataclass(frozen=True)
class ProductPageRow:
    product: Product
    can_buy: bool
    seller_rating_sum: int | None  # None: the seller has no rating yet
    seller_rating_count: int | None


_CARD_COLUMNS = (
    Product.id, Product.title, Product.slug, Product.kind, Product.category_id, Product.seller_id,
    Product.price_cents, Product.currency, Product.is_free, Product.rating_sum, Product.rating_count,
    Product.trending_score, Product.is_trending, Product.created_at,
)

AVG_RATING = sa.case(
    (Product.rating_count > 0, sa.cast(Product.rating_sum, sa.Float) / Product.rating_count), else_=0.0
)

ORDERS: dict[Sort, tuple[Any, ...]] = {
    Sort.NEW: (Product.created_at.desc(), Product.id.desc()),
    Sort.TRENDING: (Product.trending_score.desc(), AVG_RATING.desc(), Product.created_at.desc(), Product.id.desc()),
    Sort.TOP: (AVG_RATING.desc(), Product.rating_count.desc(), Product.created_at.desc(), Product.id.desc()),
}


def visible_category_ids() -> sa.Select[int]:
    """Active categories whose parent (if any) is active too: a product under an inactive root is hidden."""
    parent = aliased(Category)
    return (
        sa.select(Category.id)
        .outerjoin(parent, Category.parent_id == parent.id)
        .where(Category.is_active == sa.true(), sa.or_(Category.parent_id.is_(None), parent.is_active == sa.true()))
    )


def hidden_category_ids() -> sa.Select[int]:
    """The complement of ``visible_category_ids``: inactive categories and the children of inactive roots."""
    parent = aliased(Category)
    return (
        sa.select(Category.id)
        .outerjoin(parent, Category.parent_id == parent.id)
        .where(sa.or_(Category.is_active == sa.false(), parent.is_active == sa.false()))
    )


class BrowseRepository:
    """One per request: the hidden categories are looked up once and reused by every query.

    ``cache`` (the app's, see ``catalog.browse.cache``) holds the request-independent facts for a few
    seconds: hidden categories, the top-trending set, totals and "exists" checks of non-search lists.
    """

    def __init__(self, session: AsyncSession, cache: BrowseCache = NO_CACHE) -> None:
        self.session = session
        self.cache = cache
        self.dialect = session.get_bind().dialect.name
        self._hidden: tuple[int, ...] | None = None
        self._custom_plans_set = False

    async def visible(self) -> tuple[Any, ...]:
        """C5: published, active, in an active category (whose root is active too).

        Categories are few and nearly always all active, so the inactive ones are fetched first (one
        small query per request) and excluded by id, or not at all: the product queries then need no
        join or subquery and counts run on an index alone.
        """
        if self._hidden is None:
            self._hidden = await self.cache.hidden_categories.get_or_load(None, self._load_hidden)
        conditions: tuple[Any, ...] = (Product.status == ListingStatus.PUBLISHED, Product.is_active == sa.true())
        if self._hidden:
            conditions += (Product.category_id.not_in(self._hidden),)
        return conditions

    async def hidden_category_ids(self) -> tuple[int, ...]:
        """Inactive categories and the children of inactive roots (kept by the read cache)."""
        await self.visible()
        return self._hidden or ()

    async def _load_hidden(self) -> tuple[int, ...]:
        return tuple((await self.session.execute(hidden_category_ids())).scalars())

    # -- building blocks -------------------------------------------------------------------------

    async def _apply(
        self, stmt: sa.Select[Any], flt: ProductFilter, *, tier: Tier = Tier.ALL, ranked: bool = False
    ) -> tuple[sa.Select[Any], Any | None]:
        """Add the filter's conditions (and, for a search, the full-text join restricted to ``tier``).
        Returns the statement and, when ``ranked``, the rank ordering (best first)."""
        stmt = stmt.where(*await self.visible())
        if flt.kind is not None:
            stmt = stmt.where(Product.kind == flt.kind)
        if flt.category_ids is not None:
            stmt = stmt.where(Product.category_id.in_(flt.category_ids))
        if flt.exclude_ids:
            stmt = stmt.where(Product.id.not_in(flt.exclude_ids))
        if flt.featured is not None:
            stmt = stmt.where(Product.is_featured == flt.featured)
        if flt.manual_trending is not None:
            stmt = stmt.where(Product.is_trending == flt.manual_trending)
        if flt.positive_score:
            stmt = stmt.where(Product.trending_score > 0)
        if flt.min_reviews is not None:
            stmt = stmt.where(Product.rating_count >= flt.min_reviews)
        if flt.trending_signal:
            stmt = stmt.where(sa.or_(Product.trending_score > 0, Product.is_trending == sa.true()))
        if not flt.search:
            return stmt, None
        if not flt.terms:
            return stmt.where(sa.false()), None
        if self.dialect == "sqlite":
            return self._fts5(stmt, list(flt.terms), tier, ranked)
        await self._custom_plans()
        return self._tsvector(stmt, list(flt.terms), tier, ranked)

    async def _custom_plans(self) -> None:
        """PostgreSQL: plan each search for its own terms. The driver prepares statements, and after a
        few runs PostgreSQL may switch to a generic plan that cannot know how common a term is (a word
        in half the catalog wants a scan, a rare one the GIN index); for the rest of this request's
        transaction only."""
        if not self._custom_plans_set:
            await self.session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
            self._custom_plans_set = True

    @staticmethod
    def _fts5(stmt: sa.Select[Any], terms: list[str], tier: Tier, ranked: bool) -> tuple[sa.Select[Any], Any | None]:
        query = fts5_query(terms)
        in_title = f"{{title}} : ({query})"
        match = {Tier.ALL: query, Tier.TITLE: in_title, Tier.REST: f"({query}) NOT {in_title}"}[tier]
        fts = sa.table("products_fts", sa.column("rowid"))
        matches = sa.literal_column("products_fts").op("MATCH")(match)
        if not ranked:
            return stmt.join(fts, fts.c.rowid == sa.literal_column("products.rowid")).where(matches), None
        search = (
            sa.select(fts.c.rowid.label("rid"), sa.func.bm25(sa.literal_column("products_fts"), *BM25_WEIGHTS).label("rank"))
            .select_from(fts)
            .where(matches)
            .subquery("search")
        )
        stmt = stmt.join(search, search.c.rid == sa.literal_column("products.rowid"))
        return stmt, search.c.rank.asc()  # bm25: lower is better

    @staticmethod
    def _tsvector(stmt: sa.Select[Any], terms: list[str], tier: Tier, ranked: bool) -> tuple[sa.Select[Any], Any | None]:
        fts = sa.table("products_fts", sa.column("product_id", sa.Uuid), sa.column("document"), sa.column("title_document"),
                       schema="search")
        query = sa.func.to_tsquery(sa.literal_column("'english'::regconfig"), tsquery(terms))
        anywhere = fts.c.document.op("@@")(query)
        in_title = fts.c.title_document.op("@@")(query)
        match = {Tier.ALL: anywhere, Tier.TITLE: in_title, Tier.REST: sa.and_(anywhere, sa.not_(in_title))}[tier]
        stmt = stmt.join(fts, fts.c.product_id == Product.id).where(match)
        return stmt, sa.func.ts_rank(fts.c.document, query).desc() if ranked else None

    def _cards_select(self) -> sa.Select[*tuple[Any, ...]]:
        # C10 inside the page's own statement (catalog.buyability's clause): never a lookup per card.
        return sa.select(*_CARD_COLUMNS, can_buy_clause().label("can_buy")).select_from(Product)

    # -- lists -----------------------------------------------------------------------------------

    async def cards(self, flt: ProductFilter, sort: Sort, *, limit: int, offset: int = 0) -> list[CardRow]:
        """A page of cards. Lists walk an index in order and stop after the page: one statement. A
        search must match and order everything first, so it takes two steps: the page's ids over
        narrow rows (ranking in tiers for relevance), then the cards of just those ids, so that
        buyability and the wide columns are computed for the page only."""
        if not flt.search:
            stmt, _ = await self._apply(self._cards_select(), flt)
            order = ORDERS[Sort.NEW if sort is Sort.RELEVANCE else sort]
            rows = await self.session.execute(stmt.order_by(*order).limit(limit).offset(offset))
            return [CardRow(**row._mapping) for row in rows]
        if sort is Sort.RELEVANCE:
            ids = await self._relevance_ids(flt, limit, offset)
        else:
            stmt, _ = await self._apply(sa.select(Product.id).select_from(Product), flt)
            ids = list((await self.session.execute(stmt.order_by(*ORDERS[sort]).limit(limit).offset(offset))).scalars())
        if not ids:
            return []
        rows = await self.session.execute(self._cards_select().where(Product.id.in_(ids)))
        by_id = {row.id: CardRow(**row._mapping) for row in rows}
        return [by_id[product_id] for product_id in ids if product_id in by_id]

    async def _ranked_ids(self, flt: ProductFilter, tier: Tier, limit: int, offset: int) -> list[uuid.UUID]:
        stmt, rank = await self._apply(sa.select(Product.id).select_from(Product), flt, tier=tier, ranked=True)
        stmt = stmt.order_by(rank, Product.created_at.desc(), Product.id.desc()).limit(limit).offset(offset)
        return list((await self.session.execute(stmt)).scalars())

    async def _relevance_ids(self, flt: ProductFilter, limit: int, offset: int) -> list[uuid.UUID]:
        """Relevance in two tiers: products with every term in the title first, then the others, each
        tier by full-text rank (bm25 / ts_rank, title weighted highest), ties newest first.

        Ranking scores every match, so a common word is costly; title matches are few, and a page that
        lies within them never ranks the long tail of description-only matches. The title tier is read
        from its start: fewer rows than asked means it ended, and how many it had places the page in
        the second tier (no separate count, which PostgreSQL's planner would misjudge under a LIMIT)."""
        in_title = await self._ranked_ids(flt, Tier.TITLE, offset + limit, 0)
        ids = in_title[offset:]
        if len(in_title) < offset + limit:
            ids += await self._ranked_ids(flt, Tier.REST, limit - len(ids), max(0, offset - len(in_title)))
        return ids

    async def count(self, flt: ProductFilter, *, cap: int | None = None, tier: Tier = Tier.ALL) -> tuple[int, bool]:
        """(count, exact). With ``cap``, counting stops after cap + 1 rows: (cap, False) means "more than cap"."""
        if cap is None:
            async def exact() -> int:
                stmt, _ = await self._apply(sa.select(sa.func.count()).select_from(Product), flt, tier=tier)
                return int((await self.session.execute(stmt)).scalar_one())

            if flt.search:  # a search's count depends on its terms: never cached
                return await exact(), True
            return await self.cache.totals.get_or_load(flt, exact), True
        inner, _ = await self._apply(sa.select(sa.literal(1).label("one")).select_from(Product), flt, tier=tier)
        stmt = sa.select(sa.func.count()).select_from(inner.limit(cap + 1).subquery())
        n = int((await self.session.execute(stmt)).scalar_one())
        return (n, True) if n <= cap else (cap, False)

    async def exists(self, flt: ProductFilter) -> bool:
        async def load() -> bool:
            stmt, _ = await self._apply(sa.select(Product.id).select_from(Product), flt)
            return (await self.session.execute(stmt.limit(1))).first() is not None

        return await load() if flt.search else await self.cache.exists.get_or_load(flt, load)

    async def top_trending_ids(self, n: int) -> frozenset[uuid.UUID]:
        """The top ``n`` visible products by trending score with a score above 0 (the badge set, C7)."""

        async def load() -> frozenset[uuid.UUID]:
            stmt = (
                sa.select(Product.id)
                .where(*await self.visible(), Product.trending_score > 0)
                .order_by(*ORDERS[Sort.TRENDING])
                .limit(n)
            )
            return frozenset((await self.session.execute(stmt)).scalars())

        return await self.cache.top_trending.get_or_load(n, load)

    async def primary_image_keys(self, product_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        return await images.primary_image_keys(self.session, product_ids)

    # -- categories ------------------------------------------------------------------------------

    async def visible_category(self, category_id: int) -> Category | None:
        stmt = (
            sa.select(Category)
            .options(joinedload(Category.parent))
            .where(Category.id == category_id, Category.id.in_(visible_category_ids()))
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def active_children(self, category_id: int) -> list[Category]:
        stmt = (
            sa.select(Category)
            .where(Category.parent_id == category_id, Category.is_active == sa.true())
            .order_by(Category.sort_order, Category.name, Category.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def counts_by_category(self, category_ids: Sequence[int]) -> dict[int, int]:
        if not category_ids:
            return {}
        stmt = (
            sa.select(Product.category_id, sa.func.count())
            .where(*await self.visible(), Product.category_id.in_(category_ids))
            .group_by(Product.category_id)
        )
        return {category_id: int(n) for category_id, n in await self.session.execute(stmt)}

    # -- product page ----------------------------------------------------------------------------

    async def visible_product(self, product_id: uuid.UUID) -> ProductPageRow | None:
        """The product with its category (and parent), images, whether it can be bought (C10) and its
        seller's rating: one statement, plus one for the images and, for a FILE, one for its files."""
        stmt = (
            sa.select(Product, can_buy_clause().label("can_buy"), SellerRating.rating_sum, SellerRating.rating_count)
            .outerjoin(SellerRating, SellerRating.seller_id == Product.seller_id)
            .options(
                selectinload(Product.images),
                joinedload(Product.category).joinedload(Category.parent),
            )
            .where(Product.id == product_id, *await self.visible())
        )
        row = (await self.session.execute(stmt)).one_or_none()
        if row is None:
            return None
        product, buyable, seller_sum, seller_count = row
        if product.kind is CatalogType.FILE:
            await self.session.refresh(product, ["assets"])
        return ProductPageRow(product=product, can_buy=bool(buyable), seller_rating_sum=seller_sum,
                              seller_rating_count=seller_count)

    # -- maintenance -----------------------------------------------------------------------------

    async def rebuild_search_index(self) -> None:
        """Re-derive ``products_fts`` from ``products`` (after a SQLite VACUUM or a table rebuild)."""
        if self.dialect == "sqlite":
            await self.session.execute(sa.text("INSERT INTO products_fts(products_fts) VALUES ('rebuild')"))
        else:
            await self.session.execute(sa.text("DELETE FROM search.products_fts"))
            # The update trigger recomputes each product's document.
            await self.session.execute(sa.text("UPDATE products SET title = title"))
