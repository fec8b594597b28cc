"""Search ranking shortcuts (decision 0112) give exactly the exhaustive ranking (C5), in process.

A real Tantivy index in a temporary directory (no app, no database): random catalogs from a small
vocabulary (so words sit in titles, short and long descriptions at once, and scores tie), with
deleted documents (updates), searched for random words, prefixes, typos and pairs, with and without a
refinement, at offsets inside and past the ranked window and across the title/rest tier boundary.
Each page is compared with ``Snapshot.relevance_page(..., exhaustive=True)``: every match ranked and
counted, the algorithm before the shortcuts.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path

import pytest
from tantivy import Occur, Query

import catalog.search.index as index_module
import catalog.search.query as query_module
from catalog.browse.domain import SEARCH_COUNT_CAP
from catalog.search.index import MAX_RECENCY_WEIGHT, SearchIndex, Snapshot, Sort
from catalog.search.query import (
    Filters,
    Tier,
    expand_prefixes,
    filter_clauses,
    plan_words,
    rest_strong_queries,
    text_query,
    weak_only_bound,
)
from catalog.search.schema import SCHEMA, ProductDoc
from catalog.search.service import RANKED_WINDOW, SearchReader

NOUNS = ["dragon", "castle", "lamp", "vase", "robot", "owl", "teapot", "gear"]
ADJECTIVES = ["ancient", "spiral", "gothic", "tiny"]
FILLER = ["printed", "resin", "supports", "gift", "easy", "smooth", "durable", "and"]
PADDING = [f"word{n}" for n in range(40)]
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def _doc(rng: random.Random, n: int, product_id: uuid.UUID | None = None) -> ProductDoc:
    # Few distinct creation times: exact score ties are common and ordered by created, then id.
    created = NOW - dt.timedelta(days=rng.choice((0, 1, 2, 30, 400, 3000)))
    return ProductDoc(
        id=product_id or uuid.UUID(int=rng.getrandbits(128)), kind="MODEL" if n % 2 else "FILE",
        title=f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(NOUNS)}",
        # Short descriptions of very different lengths and long descriptions repeating a word: a long
        # description alone can then outscore a short-description match, and the shortcut must see it.
        short_description=" ".join(rng.choices(FILLER + NOUNS, k=rng.choice((0, 1, 3, 6)))
                                   + rng.choices(PADDING, k=rng.choice((0, 0, 60)))),
        description=" ".join(rng.choices(FILLER + NOUNS + ADJECTIVES, k=rng.randint(0, 30))
                             + [rng.choice(FILLER + NOUNS)] * rng.choice((0, 0, 0, 2, 12))),
        category_id=rng.randint(1, 3), seller_id="s", slug=f"p-{n}", currency="usd",
        price_cents=rng.randint(100, 2_000), is_free=rng.random() < 0.1, can_buy=True, is_trending=False,
        is_featured=False, trending_score=0.0, avg_rating=0.0, rating_count=0, rating_sum=0, created_at=created,
        image_key=None,
    )


def _catalog(directory: Path, seed: int, size: int) -> SearchIndex:
    rng = random.Random(seed)
    index = SearchIndex(directory, create=True)
    docs = [_doc(rng, n) for n in range(size)]
    index.add_all(docs)
    index.commit()
    # Edits (delete + add) and removals leave deleted documents in the segments, as in production.
    edited = rng.sample(docs, size // 10)
    index.apply([_doc(rng, n, doc.id) for n, doc in enumerate(edited)], [doc.id for doc in rng.sample(docs, 5)])
    return index


def _queries(rng: random.Random) -> list[str]:
    vocabulary = NOUNS + ADJECTIVES + FILLER
    singles = [*vocabulary, "drag", "supp", "gea", "dragn", "suports", "xylophone"]
    pairs = [" ".join(rng.sample(vocabulary, 2)) for _ in range(12)]
    return singles + pairs


def _shown(total: int) -> tuple[int, bool]:
    return min(total, SEARCH_COUNT_CAP), total <= SEARCH_COUNT_CAP  # what the response shows (0110)


@pytest.mark.parametrize(("seed", "max_words"), [(1, 1), (2, 1), (3, 2)])
def test_c5_shortcut_pages_equal_the_exhaustive_ranking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        seed: int, max_words: int) -> None:
    monkeypatch.setattr(query_module, "MAX_STRONG_WORDS", max_words)  # two words: the merged narrowed queries
    index = _catalog(tmp_path, seed, 1_500)
    taken = []
    strong_first = Snapshot._strong_first

    def spy(self: Snapshot, *args: object, **kwargs: object) -> object:
        found = strong_first(self, *args, **kwargs)  # type: ignore[arg-type]
        taken.append(found is not None)
        return found

    monkeypatch.setattr(Snapshot, "_strong_first", spy)
    rng = random.Random(seed)
    compared = 0
    for q in _queries(rng):
        terms = tuple(q.split())
        for filters in (Filters(), Filters(kind="MODEL"), Filters(is_free=False, category_ids=(1, 2))):
            for offset, limit in ((0, 25), (24, 25), (72, 25), (75, 25), (0, RANKED_WINDOW), (120, 25), (600, 61)):
                index.set_categories(index.snapshot().categories)  # a fresh snapshot: nothing cached
                snapshot = index.snapshot()
                fast = SearchReader(snapshot).page(filters, terms, Sort.RELEVANCE, offset, limit,
                                                   count_cap=SEARCH_COUNT_CAP)
                words = snapshot.cached(("words", terms))
                assert words is not None
                clauses = [(occur, q if occur is Occur.MustNot else Query.const_score_query(q, 0.0))
                           for occur, q in filter_clauses(filters)]
                full = snapshot.relevance_page(words, clauses, offset, limit, SEARCH_COUNT_CAP, exhaustive=True)
                assert [hit.id for hit in fast.hits] == [hit.id for hit in full.hits], (q, filters, offset, limit)
                assert _shown(fast.total) == _shown(full.total), (q, filters, offset, limit)
                compared += 1
    assert compared > 500
    # The shortcut was taken, and also declined (then the exhaustive ranking answers).
    assert sum(taken) > 20, taken.count(True)
    assert taken.count(False) > 5, taken.count(False)


@pytest.mark.parametrize("max_words", [1, 2])
def test_c5_the_strong_matches_score_exactly_as_in_the_rest_tier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  max_words: int) -> None:
    monkeypatch.setattr(query_module, "MAX_STRONG_WORDS", max_words)  # two words: measured slower, still exact
    index = _catalog(tmp_path, 4, 2_000)
    searcher = index.snapshot().searcher
    checked = 0
    for q in [*FILLER, *NOUNS, "drag", "suppo", "dragn", "resin gift", "tiny dragon", "owl printed lam"]:
        for typos in (False, True):
            words = expand_prefixes(plan_words(q.split(), typos=typos), searcher)
            rest = {(a.segment_ord, a.doc): score for score, a in searcher.search(
                text_query(words, Tier.REST), limit=10_000, count=False, weight_by_field="recency").hits}
            strong = set()
            for narrowed in rest_strong_queries(words):
                for score, address in searcher.search(narrowed, limit=10_000, count=False,
                                                      weight_by_field="recency").hits:
                    assert rest[(address.segment_ord, address.doc)] == score  # to the last bit
                    strong.add((address.segment_ord, address.doc))
            checked += len(strong)
    assert checked > 1_000


def test_c5_no_long_description_only_match_reaches_the_bound(tmp_path: Path) -> None:
    index = _catalog(tmp_path, 5, 2_000)
    searcher = index.snapshot().searcher
    highest = 0.0
    for q in [*FILLER, *NOUNS, *ADJECTIVES, "drag", "suppo", "dragn", "resin gift", "tiny dragon"]:
        for typos in (False, True):
            words = expand_prefixes(plan_words(q.split(), typos=typos), searcher)
            weak_only = Query.boolean_query([
                (Occur.Must, text_query(words, Tier.ALL)),
                *((Occur.MustNot, Query.term_query(SCHEMA, field, token))
                  for word in words for token in word.tokens for field in ("title", "short")),
                *((Occur.MustNot, Query.fuzzy_term_query(SCHEMA, field, word.prefix, 0, True, True))
                  for word in words if word.prefix for field in ("title", "short")),
                *((Occur.MustNot, Query.fuzzy_term_query(SCHEMA, field, form, distance, True, False))
                  for word in words for form, distance in word.fuzzy for field in ("title", "short")),
            ])
            bound = weak_only_bound(words, searcher)
            raw = searcher.search(weak_only, limit=1, count=False).hits
            weighted = searcher.search(weak_only, limit=1, count=False, weight_by_field="recency").hits
            if raw:
                assert raw[0][0] < bound, q
                assert weighted[0][0] < bound * MAX_RECENCY_WEIGHT, q
                highest = max(highest, raw[0][0] / bound)
    assert highest > 0.2  # the bound is not vacuous: real matches come within a few times of it


def test_c5_pages_of_the_ranked_window_are_one_computation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _catalog(tmp_path, 6, 500)
    calls = []
    relevance_page = index_module.Snapshot.relevance_page

    def spy(self: Snapshot, *args: object, **kwargs: object) -> object:
        calls.append(args)
        return relevance_page(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module.Snapshot, "relevance_page", spy)
    reader = SearchReader(index.snapshot())
    pages = [reader.page(Filters(), ("dragon",), Sort.RELEVANCE, offset, 25, count_cap=SEARCH_COUNT_CAP)
             for offset in (0, 24, 48, 72)]
    assert len(calls) == 1  # pages 1-4 of 24 (+1 for has_next) from one ranking of the window
    assert [len(page.hits) for page in pages] == [25, 25, 25, 25]
    assert len({hit.id for page in pages for hit in page.hits}) == 24 * 3 + 25  # consecutive, overlapping by one
    reader.page(Filters(), ("dragon",), Sort.RELEVANCE, RANKED_WINDOW, 25, count_cap=SEARCH_COUNT_CAP)
    assert len(calls) == 2  # past the window: the page alone


def test_c5_the_shortcut_is_declined_where_a_long_description_outscores_a_short_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Strong matches with very long short descriptions score below long descriptions repeating the
    word: ranking only the strong matches would put those first. The bound sees it (the shortcut is
    declined for that page) while the pages above them still take it."""
    rng = random.Random(9)
    docs = []
    for n in range(120):
        doc = _doc(rng, n)
        if n < 30:  # the word once in a short short description: the best matches
            short, long = "a gift", "printed in resin"
        elif n < 33:  # the word once in a very long short description: weak scores
            short, long = "gift " + " ".join(rng.choices(PADDING, k=3000)), "printed in resin"
        elif n < 48:  # the word repeated in a long description only
            short, long = "printed", " ".join(["gift"] * 20)
        else:
            short, long = "printed", "smooth"
        docs.append(ProductDoc(**{**doc.__dict__, "title": "tiny owl lamp", "short_description": short,
                                  "description": long}))
    index = SearchIndex(tmp_path, create=True)
    index.add_all(docs)
    index.commit()
    snapshot = index.snapshot()
    words = expand_prefixes(plan_words(["gift"], typos=False), snapshot.searcher)
    taken = []
    strong_first = Snapshot._strong_first

    def spy(self: Snapshot, *args: object, **kwargs: object) -> object:
        found = strong_first(self, *args, **kwargs)  # type: ignore[arg-type]
        taken.append(found is not None)
        return found

    monkeypatch.setattr(Snapshot, "_strong_first", spy)
    for offset, limit in ((0, 25), (0, 32), (10, 20), (30, 10)):
        fast = snapshot.relevance_page(words, [], offset, limit, SEARCH_COUNT_CAP)
        full = snapshot.relevance_page(words, [], offset, limit, SEARCH_COUNT_CAP, exhaustive=True)
        assert [hit.id for hit in fast.hits] == [hit.id for hit in full.hits], (offset, limit)
        assert fast.total == full.total == 48
    # Taken for the pages within the best 30; declined where the 31st and 32nd strong matches (long
    # short descriptions) score below the long-description-only ones, and past the strong matches.
    assert taken == [True, False, True, False]
    ranked = [hit.id for hit in snapshot.relevance_page(words, [], 0, 48, None, exhaustive=True).hits]
    assert set(ranked[:30]) == {doc.id for doc in docs[:30]}
    assert set(ranked[30:45]) == {doc.id for doc in docs[33:48]}  # above the strong matches with weak scores
    assert set(ranked[45:]) == {doc.id for doc in docs[30:33]}
