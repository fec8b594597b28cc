"""The engine: one Tantivy index of the visible products, its writer and its current searcher.

Pages are ordered exactly like the SQL they replace, ties included (``_by_keys``: the engine orders
by one fast field; a tie across the page boundary is resolved by a search over the tied matches
ordered by the next key), ending with the product id. Counts are exact.

Relevance runs in tiers (C5): every word in the title first, then the rest, each by score (bm25
with field boosts), ties newest first, then by id. A page that lies within the title matches never
ranks the others; the rest tier is only counted.

Writes (``replace_all``, ``apply``) run in a worker thread and end with a commit and a new searcher;
reads use whichever searcher is current, so a reader never sees half a batch.
"""

from __future__ import annotations

import enum
import math
import shutil
import threading
import uuid
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import tantivy
from tantivy import FieldType, Occur, Order, Query

from catalog.search.categories import CategoryTree
from catalog.search.query import Tier, Word, rest_strong_queries, text_query, weak_only_bound
from catalog.search.schema import (
    ANALYZER,
    ANALYZER_NAME,
    RECENCY_MAX,
    SCHEMA,
    ProductDoc,
    from_micros,
    id_from_halves,
)

WRITER_HEAP_BYTES = 64_000_000
MAX_CACHED_RESULTS = 4096
MAX_CACHED_CARDS = 20_000  # the hot pages' cards; a few MB
MAX_CACHED_RESPONSES = 1024  # the hot pages' JSON bodies (~2-20 kB each)
T = TypeVar("T")
SNIPPET_CHARS = 160
# The most the recency weight can multiply a score by (``weight_by_field``: log2(2 + recency), recency
# at most RECENCY_MAX), with a margin for the engine's single-precision arithmetic.
MAX_RECENCY_WEIGHT = math.log2(2.0 + RECENCY_MAX) * (1.0 + 1e-3)
FACET_SIZE = 200  # categories are few; a bound all the same


class Sort(enum.Enum):
    RELEVANCE = "relevance"  # score, newest, id
    NEW = "new"  # created, id
    TRENDING = "trending"  # trending score, average rating, created, id (C7)
    TOP = "top"  # average rating, review count, created, id (C5)


# Each sort's keys, all descending, as fast fields; the product id (two u64 halves) ends every order.
_KEYS: dict[Sort, tuple[tuple[str, FieldType], ...]] = {
    Sort.NEW: (("created_us", FieldType.Integer),),
    Sort.TRENDING: (("trending_score", FieldType.Float), ("avg_rating", FieldType.Float),
                    ("created_us", FieldType.Integer)),
    Sort.TOP: (("avg_rating", FieldType.Float), ("rating_count", FieldType.Integer), ("created_us", FieldType.Integer)),
    Sort.RELEVANCE: (),
}
_ID_KEYS = (("id_hi", FieldType.Unsigned), ("id_lo", FieldType.Unsigned))


@dataclass(frozen=True)
class Hit:
    id: uuid.UUID
    address: tantivy.DocAddress


@dataclass(frozen=True)
class Page:
    hits: list[Hit]
    total: int


@dataclass(frozen=True)
class Card:
    """A card's fields as stored in the index."""

    id: uuid.UUID
    title: str
    slug: str
    kind: str
    category_id: int
    seller_id: str
    price_cents: int
    currency: str
    is_free: bool
    can_buy: bool
    is_trending: bool
    trending_score: float
    rating_sum: int
    rating_count: int
    created_at: Any
    image_key: str | None


@dataclass(frozen=True)
class Facets:
    categories: dict[int, int]
    kinds: dict[str, int]


class SearchIndex:
    """One index in its own directory (``catalog.search.store``: a slot of one process), owned by
    one process. ``create``: a new, empty index there; else the index already there (opening a
    damaged one raises: the caller rebuilds)."""

    def __init__(self, directory: Path, *, create: bool) -> None:
        self.directory = directory
        if create:
            self._index = tantivy.Index(SCHEMA, path=str(directory), reuse=False)
        else:
            self._index = tantivy.Index.open(str(directory))
        self._index.register_tokenizer(ANALYZER_NAME, ANALYZER)
        self._writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        self._write_lock = threading.Lock()
        self._current = Snapshot(self._index.searcher(), 0, {}, CategoryTree())

    # -- writes (call from a worker thread) -------------------------------------------------------

    def add_all(self, docs: Iterable[ProductDoc]) -> int:
        """Add documents to an index being built (no deletes first); commit separately."""
        n = 0
        with self._write_lock:
            for doc in docs:
                self._writer.add_document(doc.document())
                n += 1
        return n

    def apply(self, upserts: Sequence[ProductDoc], deletes: Iterable[uuid.UUID]) -> None:
        """Replace the documents of ``upserts``, remove ``deletes``, commit, and switch searchers."""
        changed = {*deletes, *(doc.id for doc in upserts)}
        with self._write_lock:
            for product_id in changed:
                self._writer.delete_documents_by_term("id", product_id.hex)
            for doc in upserts:
                self._writer.add_document(doc.document())
        self.commit(changed)

    def commit(self, changed: Iterable[uuid.UUID] = ()) -> None:
        """Make what was written visible: a new snapshot, with an empty page cache and the card cache
        of the previous one less the ``changed`` products."""
        with self._write_lock:
            self._writer.commit()
            self._index.reload()
            previous = self._current
            cards = dict(previous.cards) if len(previous.cards) < MAX_CACHED_CARDS else {}
            for product_id in changed:
                cards.pop(product_id, None)
            self._current = Snapshot(self._index.searcher(), previous.generation + 1, cards, previous.categories)

    def set_categories(self, categories: CategoryTree) -> None:
        """A new snapshot over the same index with this category tree (its results computed afresh)."""
        with self._write_lock:
            previous = self._current
            self._current = Snapshot(previous.searcher, previous.generation + 1, previous.cards_cache, categories)

    def close(self, *, remove: bool = False) -> None:
        """Stop writing (the committed index stays on disk for the next start unless ``remove``)."""
        with self._write_lock:
            self._writer.wait_merging_threads()
        if remove:
            shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def num_docs(self) -> int:
        return int(self._current.searcher.num_docs)

    def snapshot(self) -> Snapshot:
        """The current state: a request reads one consistent state, whatever commits meanwhile."""
        return self._current


class Snapshot:
    """Reads over one searcher (doc addresses are only valid within the searcher that returned them).

    It also keeps what was computed over it: ``results`` (pages, counts, facets, by request) and
    ``cards`` (by product, carried over to the next snapshot except the products that changed). A
    snapshot never changes, so neither can go stale: the next commit starts a new one.
    """

    def __init__(
        self, searcher: tantivy.Searcher, generation: int, cards: dict[uuid.UUID, Card], categories: CategoryTree
    ) -> None:
        self.searcher = searcher
        self.generation = generation
        self.cards_cache = cards
        self.categories = categories
        self.results: dict[Hashable, Any] = {}
        self.responses: dict[Hashable, bytes] = {}

    @property
    def cards(self) -> dict[uuid.UUID, Card]:
        return self.cards_cache

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per snapshot and key (bounded: the cache empties when full)."""
        try:
            return cast(T, self.results[key])
        except KeyError:
            pass
        value = compute()
        self.keep(key, value)
        return value

    def cached(self, key: Hashable) -> Any:
        """What was kept under ``key`` over this snapshot, or None."""
        return self.results.get(key)

    def cached_response(self, key: Hashable) -> bytes | None:
        """A response body computed over this snapshot (``catalog.browse.endpoints``), or None."""
        return self.responses.get(key)

    def keep_response(self, key: Hashable, body: bytes) -> None:
        if len(self.responses) >= MAX_CACHED_RESPONSES:
            self.responses.clear()
        self.responses[key] = body

    def keep(self, key: Hashable, value: Any) -> None:
        if len(self.results) >= MAX_CACHED_RESULTS:
            self.results.clear()
        self.results[key] = value

    def count(self, query: Query) -> int:
        return _count(self.searcher.search(query, limit=1, count=True))

    def page(self, query: Query, sort: Sort, offset: int, limit: int) -> Page:
        hits, total = _ordered(self.searcher, query, sort, offset, limit)
        return Page(hits=hits, total=total)

    def relevance_page(
        self, words: list[Word], filters: list[tuple[Occur, Query]], offset: int, limit: int,
        count_cap: int | None = None, *, exhaustive: bool = False,
    ) -> Page:
        """Title matches first, then the rest; each tier by score, newest, id.

        Two engine passes: the title tier's top ``offset + limit`` with its count, then either the
        rest tier's top with its count (a page that runs past the title matches) or, for a page
        within the title matches, the count of every match (no ranking). With ``count_cap``, a title
        tier already larger than the cap skips that count: ``total`` is then the title count, which
        is more than the cap as the full total would be (the response shows the cap, not exact).
        The rest tier is ranked among its strong matches when that gives the same answer
        (``_strong_first``); ``exhaustive``: rank and count every match (what that is tested against).
        """
        title = _narrow(text_query(words, Tier.TITLE), filters)
        hits, title_total = _ordered(self.searcher, title, Sort.RELEVANCE, offset, limit)
        if len(hits) < limit:
            rest = _narrow(text_query(words, Tier.REST), filters)
            rest_offset, rest_limit = max(0, offset - title_total), limit - len(hits)
            rest_cap = None if count_cap is None else max(0, count_cap - title_total)
            strong = None if exhaustive else self._strong_first(words, filters, rest_offset, rest_limit, rest_cap)
            if strong is not None:
                more, rest_total = strong
            else:
                more, rest_total = _ordered(self.searcher, rest, Sort.RELEVANCE, rest_offset, rest_limit)
            return Page(hits=hits + more, total=title_total + rest_total)
        if count_cap is not None and title_total > count_cap:
            return Page(hits=hits, total=title_total)
        # The page lies within the title matches: the others are only counted, never ranked.
        return Page(hits=hits, total=self.count(Query.const_score_query(_narrow(text_query(words), filters), 0.0)))

    def _strong_first(
        self, words: list[Word], filters: list[tuple[Occur, Query]], offset: int, limit: int, count_cap: int | None
    ) -> tuple[list[Hit], int] | None:
        """The rest tier's hits ``offset .. offset + limit`` ranked among its *strong* matches only (a
        word in the title or short description: ``query.rest_strong_queries``, one query per word,
        their first hits merged), when that is provably the same answer, else None (the caller ranks
        every match).

        It is when the last of those hits outscores, weighted, anything a match with every word in
        the long description alone can score (``query.weak_only_bound`` times the largest recency
        weight): such matches then all rank below it, and the strong ones keep their scores and so
        their order. A common word found in a third of the catalog's long descriptions is then ranked
        over the few percent that hold it in a short one. Decision 0112.
        """
        wanted = offset + limit
        queries = rest_strong_queries(words)
        if wanted == 0 or not queries:
            return None
        merged: dict[tuple[int, int], tuple[float, int, int, int, tantivy.DocAddress]] = {}
        strong_total = 0  # the largest narrowed count: at most the strong matches
        for narrowed in queries:
            ranked, total = _by_score(self.searcher, _narrow(narrowed, filters), wanted)
            strong_total = max(strong_total, total)
            merged.update(((row[2], row[3]), row) for row in ranked)
        # The first ``wanted`` of a union are among the first ``wanted`` of each part (same order).
        best = sorted(merged.values(), key=lambda row: row[:-1], reverse=True)[:wanted]
        if len(best) < wanted or not best[-1][0] > weak_only_bound(words, self.searcher) * MAX_RECENCY_WEIGHT:
            return None
        # Counted exactly unless the strong matches alone already exceed the cap (as the title tier).
        if count_cap is not None and strong_total > count_cap:
            total = strong_total
        else:
            total = self.count(Query.const_score_query(_narrow(text_query(words, Tier.REST), filters), 0.0))
        return [Hit(id=id_from_halves(hi, lo), address=address) for _, _, hi, lo, address in best[offset:wanted]], total

    def read_cards(self, hits: Sequence[Hit]) -> list[Card]:
        out = []
        for hit in hits:
            card = self.cards_cache.get(hit.id)
            if card is None:
                card = _card(hit.id, self.searcher.doc(hit.address).to_dict())
                if len(self.cards_cache) < MAX_CACHED_CARDS:
                    self.cards_cache[hit.id] = card
            out.append(card)
        return out

    def snippets(self, words: list[Word], hits: Sequence[Hit]) -> dict[uuid.UUID, str]:
        """A highlighted extract (HTML: the text escaped, matches in ``<b>``) per hit: from the long
        description where a word matched there, else the short one; none when only the title matched."""
        if not hits or not words:
            return {}
        query = text_query(words, Tier.ALL)
        generators = []
        for field in ("description", "short"):
            generator = tantivy.SnippetGenerator.create(self.searcher, query, SCHEMA, field)
            generator.set_max_num_chars(SNIPPET_CHARS)
            generators.append(generator)
        out: dict[uuid.UUID, str] = {}
        for hit in hits:
            doc = self.searcher.doc(hit.address)
            for generator in generators:
                snippet = generator.snippet_from_doc(doc)
                if snippet.highlighted():
                    out[hit.id] = snippet.to_html()
                    break
        return out

    def facets(self, query: Query) -> Facets:
        result = self.searcher.aggregate(query, {
            "categories": {"terms": {"field": "category_id", "size": FACET_SIZE}},
            "kinds": {"terms": {"field": "kind", "size": 10}},
        })
        return Facets(
            categories={int(b["key"]): int(b["doc_count"]) for b in result["categories"]["buckets"]},
            kinds={str(b["key"]): int(b["doc_count"]) for b in result["kinds"]["buckets"]},
        )


def _narrow(query: Query, filters: list[tuple[Occur, Query]]) -> Query:
    if not filters:
        return query
    return Query.boolean_query([(Occur.Must, query), *filters])


def _ordered(searcher: tantivy.Searcher, query: Query, sort: Sort, offset: int, limit: int) -> tuple[list[Hit], int]:
    """The hits ``offset .. offset + limit`` in the sort's full order, and the total match count."""
    wanted = offset + limit
    if wanted == 0:
        return [], _count(searcher.search(query, limit=1, count=True))
    # The engine counts the matches in the same pass that collects the first ones (one pass, not two).
    if sort is Sort.RELEVANCE:
        scored, total = _by_score(searcher, query, wanted)
        ranked = [(hi, lo, address) for _, _, hi, lo, address in scored]
    else:
        ranked, total = _by_keys(searcher, query, (*_KEYS[sort], *_ID_KEYS), wanted, count=True)
    return [Hit(id=id_from_halves(hi, lo), address=address) for hi, lo, address in ranked[offset:wanted]], total


def _count(result: tantivy.SearchResult) -> int:
    """The match count a search collected (``count=True``); the type stubs do not declare it."""
    return int(getattr(result, "count"))  # noqa: B009


def _ids(searcher: tantivy.Searcher, addresses: list[tantivy.DocAddress]) -> list[tuple[int, int]]:
    his = searcher.fast_field_values("id_hi", addresses)
    los = searcher.fast_field_values("id_lo", addresses)
    return [(int(hi or 0), int(lo or 0)) for hi, lo in zip(his, los, strict=True)]


def _by_keys(
    searcher: tantivy.Searcher, query: Query, keys: tuple[tuple[str, FieldType], ...], n: int, *, count: bool = False
) -> tuple[list[tuple[int, int, tantivy.DocAddress]], int]:
    """The first ``n`` matches ordered by ``keys`` (each descending), exactly, ties included.

    The engine orders by one fast field. The first ``n + 1`` by the first key tell whether the n-th
    ties with the next: if not, those are the answer (ordered by the full key, read from fast
    fields). If so, the matches strictly above the boundary value are certainly in, and the rest of
    the page comes from the matches *equal* to it (a range query on that value), ordered by the next
    keys the same way. Each step costs one engine search over the tied matches only. ``count``: also
    the number of matches (else 0), counted by the first search.
    """
    (field, field_type), rest = keys[0], keys[1:]
    result = searcher.search(query, limit=n + 1, count=count, order_by_field=field, order=Order.Desc)
    total = _count(result) if count else 0
    raw = result.hits
    if len(raw) <= n or raw[n - 1][0] != raw[n][0] or not rest:
        return _sorted(searcher, raw[: n + 1] if rest else raw, (field, *(name for name, _ in rest)))[:n], total
    boundary = raw[n - 1][0]
    above = [hit for hit in raw if hit[0] > boundary]
    tied = Query.boolean_query([
        (Occur.Must, query),
        (Occur.Must, Query.const_score_query(
            Query.range_query(SCHEMA, field, field_type, boundary, boundary), 0.0)),
    ])
    more, _ = _by_keys(searcher, tied, rest, n - len(above))
    return _sorted(searcher, above, (field, *(name for name, _ in rest))) + more, total


def _sorted(
    searcher: tantivy.Searcher, raw: list[tuple[Any, tantivy.DocAddress]], fields: tuple[str, ...]
) -> list[tuple[int, int, tantivy.DocAddress]]:
    """Hits ordered by the full key (fields, then id), all descending, read from fast fields."""
    if not raw:
        return []
    addresses = [address for _, address in raw]
    columns = [searcher.fast_field_values(name, addresses) for name in fields if name not in ("id_hi", "id_lo")]
    ids = _ids(searcher, addresses)
    rows = sorted(
        ((*(column[i] for column in columns), *ids[i], address) for i, address in enumerate(addresses)),
        key=lambda row: row[:-1],
        reverse=True,
    )
    return [(cast(int, row[-3]), cast(int, row[-2]), cast(tantivy.DocAddress, row[-1])) for row in rows]


def _by_score(
    searcher: tantivy.Searcher, query: Query, n: int
) -> tuple[list[tuple[float, int, int, int, tantivy.DocAddress]], int]:
    """The first ``n`` by score, ties newest first, then by id, as (weighted score, created, id
    halves, address): the sort key, then the address.

    Scores are weighted by recency (``schema.RECENCY``: at most a few parts in ten thousand), so equal
    scores come out newest first from the engine and real ties are few; the few left are fetched
    until they end and ordered by (score, created, id).
    """
    fetch = n
    total: int | None = None
    while True:
        result = searcher.search(query, limit=fetch + 1, count=total is None, weight_by_field="recency")
        if total is None:
            total = _count(result)  # the matches, counted by the first pass
        raw = result.hits
        if len(raw) <= fetch or raw[n - 1][0] != raw[fetch][0]:
            break
        fetch *= 4  # the boundary's ties may run past what was fetched
    addresses = [address for _, address in raw]
    created = searcher.fast_field_values("created_us", addresses)
    ids = _ids(searcher, addresses)
    rows: list[tuple[float, int, int, int, tantivy.DocAddress]] = sorted(
        ((score, int(created[i] or 0), *ids[i], address) for i, (score, address) in enumerate(raw)),
        key=lambda row: row[:-1],
        reverse=True,
    )
    return rows[:n], total


def _card(product_id: uuid.UUID, fields: dict[str, list[Any]]) -> Card:
    def one(name: str, default: Any = None) -> Any:
        values = fields.get(name)
        return values[0] if values else default

    return Card(
        id=product_id, title=one("title", ""), slug=one("slug", ""), kind=one("kind"), category_id=one("category_id"),
        seller_id=one("seller_id", ""), price_cents=one("price_cents", 0), currency=one("currency", "usd"),
        is_free=bool(one("is_free", False)), can_buy=bool(one("can_buy", False)),
        is_trending=bool(one("is_trending", False)), trending_score=float(one("trending_score", 0.0)),
        rating_sum=one("rating_sum", 0), rating_count=one("rating_count", 0),
        created_at=from_micros(one("created_us", 0)), image_key=one("image_key"),
    )
