"""The engine: one Tantivy index of the visible products, its writer and its current searcher.

Pages are ordered exactly like the SQL they replace, ties included: the engine returns the top
``offset + limit`` by the sort's first key; when the last of them ties with the page's boundary, it
fetches further until the tie ends, then the hits are ordered by the full key (for instance score,
then newest, then id) read from fast fields. Counts are exact (the engine counts while collecting).

Relevance runs in tiers (C5): every word in the title first, then the rest, each by score (bm25
with field boosts), ties newest first, then by id. A page that lies within the title matches never
ranks the others; the rest tier is only counted.

Writes (``replace_all``, ``apply``) run in a worker thread and end with a commit and a new searcher;
reads use whichever searcher is current, so a reader never sees half a batch.
"""

from __future__ import annotations

import enum
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy
from tantivy import Occur, Order, Query

from catalog.search.query import Tier, Word, text_query
from catalog.search.schema import (
    ANALYZER,
    ANALYZER_NAME,
    SCHEMA,
    ProductDoc,
    from_micros,
    id_from_halves,
)

WRITER_HEAP_BYTES = 64_000_000
SNIPPET_CHARS = 160
FACET_SIZE = 200  # categories are few; a bound all the same


class Sort(enum.Enum):
    RELEVANCE = "relevance"  # score, newest, id
    NEW = "new"  # created, id
    TRENDING = "trending"  # trending score, average rating, created, id (C7)
    TOP = "top"  # average rating, review count, created, id (C5)


# The fast field of each sort's first key (None: the relevance score) and the fast fields of the rest.
_FIRST_KEY: dict[Sort, str | None] = {
    Sort.RELEVANCE: None, Sort.NEW: "created_us", Sort.TRENDING: "trending_score", Sort.TOP: "avg_rating",
}
_NEXT_KEYS: dict[Sort, tuple[str, ...]] = {
    Sort.RELEVANCE: ("created_us",),
    Sort.NEW: (),
    Sort.TRENDING: ("avg_rating", "created_us"),
    Sort.TOP: ("rating_count", "created_us"),
}


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
    """One index in its own directory (a temporary one by default), owned by one process."""

    def __init__(self, parent_dir: Path | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="catalog-search-", dir=parent_dir))
        self._index = tantivy.Index(SCHEMA, path=str(self.directory), reuse=False)
        self._index.register_tokenizer(ANALYZER_NAME, ANALYZER)
        self._writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
        self._write_lock = threading.Lock()
        self.generation = 0
        self.searcher = self._index.searcher()

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
        with self._write_lock:
            for product_id in {*deletes, *(doc.id for doc in upserts)}:
                self._writer.delete_documents_by_term("id", product_id.hex)
            for doc in upserts:
                self._writer.add_document(doc.document())
        self.commit()

    def commit(self) -> None:
        with self._write_lock:
            self._writer.commit()
            self._index.reload()
            self.searcher = self._index.searcher()
            self.generation += 1

    def close(self) -> None:
        with self._write_lock:
            self._writer.wait_merging_threads()
        shutil.rmtree(self.directory, ignore_errors=True)

    @property
    def num_docs(self) -> int:
        return int(self.searcher.num_docs)

    def snapshot(self) -> Snapshot:
        """The current searcher: a request reads one consistent state, whatever commits meanwhile."""
        return Snapshot(self.searcher)


class Snapshot:
    """Reads over one searcher (doc addresses are only valid within the searcher that returned them)."""

    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher

    def count(self, query: Query) -> int:
        return int(self.searcher.search(query, limit=1, count=True).count)

    def page(self, query: Query, sort: Sort, offset: int, limit: int) -> Page:
        hits, total = _ordered(self.searcher, query, sort, offset, limit)
        return Page(hits=hits, total=total)

    def relevance_page(self, words: list[Word], filters: list[tuple[Occur, Query]], offset: int, limit: int) -> Page:
        """Title matches first, then the rest; each tier by score, newest, id."""
        title = _narrow(text_query(words, Tier.TITLE), filters)
        rest = _narrow(text_query(words, Tier.REST), filters)
        hits, title_total = _ordered(self.searcher, title, Sort.RELEVANCE, offset, limit)
        if len(hits) < limit:
            more, rest_total = _ordered(
                self.searcher, rest, Sort.RELEVANCE, max(0, offset - title_total), limit - len(hits)
            )
            hits += more
        else:
            rest_total = int(self.searcher.search(rest, limit=1, count=True).count)
        return Page(hits=hits, total=title_total + rest_total)

    def cards(self, hits: Sequence[Hit]) -> list[Card]:
        return [_card(hit.id, self.searcher.doc(hit.address).to_dict()) for hit in hits]

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
    first = _FIRST_KEY[sort]
    fetch = max(wanted, 1)
    while True:
        if first is None:
            result = searcher.search(query, limit=fetch, count=True)
        else:
            result = searcher.search(query, limit=fetch, count=True, order_by_field=first, order=Order.Desc)
        raw = result.hits
        total = int(result.count)
        if wanted == 0 or len(raw) < fetch or len(raw) < wanted or raw[-1][0] != raw[wanted - 1][0]:
            break
        fetch *= 4  # the boundary's ties may run past what was fetched
    if not raw or wanted == 0:
        return [], total
    addresses = [address for _, address in raw]
    columns = [searcher.fast_field_values(name, addresses) for name in (*_NEXT_KEYS[sort], "id_hi", "id_lo")]
    keyed = sorted(
        ((key, *(column[i] for column in columns), address) for i, (key, address) in enumerate(raw)),
        key=lambda row: row[:-1],
        reverse=True,
    )
    return [Hit(id=id_from_halves(row[-3], row[-2]), address=row[-1]) for row in keyed[offset:wanted]], total


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
