"""In-process profile of computed (uncached) catalog searches, no HTTP and no database (issue 9).

Builds a search index of N products generated like ``bench/catalog_browse.py`` (same vocabulary and
text shape), then runs Q distinct searches of one or two vocabulary words (any of the first three
pages, 25 hits each, as the browse endpoint asks) through ``SearchReader.page`` over a fresh
snapshot each time (so nothing comes from the result cache) and prints p50 / p99 / mean per search,
plus a bare ``tantivy`` baseline measured in the same run: a plain top-25 by BM25 with the same
field boosts and an exact count, for the same words (the issue author's comparison).

    .venv/bin/python bench/catalog_search_profile.py --products 100000 --queries 300
    .venv/bin/python bench/catalog_search_profile.py --profile   # cProfile of the searches
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import inspect
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tantivy import Occur, Query

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_browse import ADJECTIVES, FILLER, NOUNS, SEARCHES, VOCABULARY

from catalog.browse.domain import SEARCH_COUNT_CAP
from catalog.browse.search import search_terms
from catalog.search.index import SearchIndex, Snapshot, Sort
from catalog.search.query import Filters, plan_words
from catalog.search.schema import FIELD_BOOSTS, SCHEMA, ProductDoc
from catalog.search.service import SearchReader


def product(rng: random.Random, n: int, now: dt.datetime) -> ProductDoc:
    kind = "MODEL" if n % 2 else "FILE"
    return ProductDoc(
        id=uuid.UUID(int=rng.getrandbits(128)), kind=kind,
        title=f"{rng.choice(ADJECTIVES).capitalize()} {rng.choice(NOUNS)} {rng.choice(NOUNS)}",
        short_description=" ".join(rng.choices(FILLER + NOUNS, k=10)),
        description=" ".join(rng.choices(FILLER + NOUNS + ADJECTIVES, k=45)),
        category_id=rng.randint(1, 20), seller_id="s", slug=f"p-{n}", currency="usd",
        price_cents=rng.randint(100, 20_000), is_free=False, can_buy=True, is_trending=False, is_featured=False,
        trending_score=0.0, avg_rating=0.0, rating_count=0, rating_sum=0,
        created_at=now - dt.timedelta(seconds=rng.uniform(0, 365 * 86400)), image_key=None,
    )


def bare(snapshot: Snapshot, terms: list[str], n: int) -> int:
    """Plain top-n by BM25 (every word required, boosted fields, an exact count): the engine alone."""
    musts = []
    for word in plan_words(terms, typos=False):
        musts.append((Occur.Must, Query.boolean_query([
            (Occur.Should, Query.boost_query(Query.term_query(SCHEMA, field, word.tokens[0]), boost))
            for field, boost in FIELD_BOOSTS.items()])))
    result = snapshot.searcher.search(Query.boolean_query(musts), limit=n, count=True)
    return len(result.hits)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--bench-searches", action="store_true",
                        help="the searches of catalog_browse.py's `search` scenario (pages 1-3) instead of random ones")
    parser.add_argument("--index", type=Path, help="keep the index in this directory and reuse it next time")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        if args.index and (args.index / "meta.json").exists():
            index = SearchIndex(args.index, create=False)
            print(f"reusing {args.index}: {index.num_docs} products")
        else:
            if args.index:
                args.index.mkdir(parents=True, exist_ok=True)
            index = SearchIndex(args.index or Path(tmp), create=True)
            started = time.perf_counter()
            index.add_all(product(rng, n, now) for n in range(args.products))
            index.commit()
            print(f"built {args.products} products in {time.perf_counter() - started:.1f} s")
        rng = random.Random(args.seed + 1)  # the same searches whether the index was built or reused
        queries = list({" ".join(rng.sample(VOCABULARY, rng.choice((1, 2, 2)))): None
                        for _ in range(args.queries * 2)})[: args.queries]
        pages = [rng.choice((1, 2, 3)) for _ in queries]
        if args.bench_searches:  # the HTTP bench's `search` scenario: its 32 searches, pages 1-3 each
            queries, pages = [q for q in SEARCHES for _ in (1, 2, 3)], [p for _ in SEARCHES for p in (1, 2, 3)]
        page_size = 24
        # As the browse endpoint asks (0111); code from before the count cap takes no such argument.
        cap = {"count_cap": SEARCH_COUNT_CAP} if "count_cap" in inspect.signature(SearchReader.page).parameters else {}

        def ours() -> list[float]:
            out = []
            for q, page in zip(queries, pages, strict=True):
                index.set_categories(index.snapshot().categories)  # a fresh snapshot: nothing cached
                reader = SearchReader(index.snapshot())
                t = time.perf_counter()
                reader.page(Filters(), tuple(search_terms(q)), Sort.RELEVANCE, (page - 1) * page_size,
                            page_size + 1, **cap)
                out.append((time.perf_counter() - t) * 1000)
            return out

        def engine() -> list[float]:
            out = []
            snapshot = index.snapshot()
            for q, page in zip(queries, pages, strict=True):
                t = time.perf_counter()
                bare(snapshot, search_terms(q), page * page_size + 1)
                out.append((time.perf_counter() - t) * 1000)
            return out

        ours()  # warm
        for name, run in (("bare tantivy", engine), ("catalog search", ours)):
            if args.profile and name == "catalog search":
                profiler = cProfile.Profile()
                profiler.enable()
                times = run()
                profiler.disable()
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
            else:
                times = run()
            times.sort()
            print(f"{name:15s} {len(times)} searches: p50 {statistics.median(times):.2f} ms, "
                  f"p99 {times[int(len(times) * 0.99) - 1]:.2f} ms, mean {statistics.fmean(times):.2f} ms")
        index.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
