"""What the read side asks of the search projection: a page of a list or a search in a given order,
counts, cards, snippets and facet counts. Synchronous and in memory, no database statement: a few
milliseconds for an uncached page at 100,000 products, microseconds for one already computed over
the same index state (each commit of the index starts an empty result cache, so a cached answer
is never older than the index itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from tantivy import Occur, Query

from catalog.search.categories import CategoryTree
from catalog.search.index import Card, Facets, Hit, Page, Snapshot, Sort
from catalog.search.query import (
    Filters,
    Tier,
    Word,
    expand_prefixes,
    filter_clauses,
    list_query,
    plan_words,
    text_query,
)

T = TypeVar("T")
# A search's first pages come from one ranking of its first RANKED_WINDOW matches, computed once per
# index snapshot (decision 0112): pages 1-4 of 24 (each asked with one more card, for ``has_next``)
# cost one engine pass instead of one each. Must stay below the count cap (0111), so that the total
# of a page inside the window is the one that page alone would have counted.
RANKED_WINDOW = 100


class SearchReader:
    """One per request, over the index state current when it was made (``Snapshot``: one consistent
    state, and the results already computed over it by earlier requests)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    @property
    def categories(self) -> CategoryTree:
        return self.snapshot.categories

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per index snapshot and key."""
        return self.snapshot.remember(key, compute)

    def _plan(self, terms: tuple[str, ...], *, typos: bool) -> list[Word]:
        return expand_prefixes(plan_words(terms, typos=typos), self.snapshot.searcher)

    def _words(self, terms: tuple[str, ...]) -> list[Word]:
        """The words as typed; if they match nothing, with typo tolerance (``catalog.search.query``)."""
        def plan() -> list[Word]:
            exact = self._plan(terms, typos=False)
            if not exact or self.snapshot.count(text_query(exact, Tier.ALL)):
                return exact
            return self._plan(terms, typos=True)

        return self.snapshot.remember(("words", terms), plan)

    def _query(self, filters: Filters, terms: tuple[str, ...] | None) -> Query:
        if terms is None:
            return list_query(filters)
        return list_query(filters, text_query(self._words(terms), Tier.ALL))

    def page(
        self, filters: Filters, terms: tuple[str, ...] | None, sort: Sort, offset: int, limit: int,
        count_cap: int | None = None,
    ) -> Page:
        """``terms`` None: a list (every indexed product the filters keep); else a search for them
        (no terms: matches nothing). Relevance (searches only) ranks title matches first, and with
        ``count_cap`` its ``total`` may stop counting once it is known to exceed the cap. A relevance
        page within the first ``RANKED_WINDOW`` matches is a slice of that window's ranking (the
        same hits and total as computing the page alone: the order is total, ending with the id)."""
        if sort is Sort.RELEVANCE and terms is None:
            sort = Sort.NEW

        def compute() -> Page:
            if terms is not None and sort is Sort.RELEVANCE:
                if offset + limit <= RANKED_WINDOW and (count_cap is None or count_cap >= RANKED_WINDOW):
                    ranked = self.snapshot.remember(
                        ("ranked", filters, terms, count_cap),
                        lambda: self._relevance_page(filters, terms, 0, RANKED_WINDOW, count_cap),
                    )
                    return Page(hits=ranked.hits[offset:offset + limit], total=ranked.total)
                return self._relevance_page(filters, terms, offset, limit, count_cap)
            return self.snapshot.page(self._query(filters, terms), sort, offset, limit)

        return self.snapshot.remember(("page", filters, terms, sort, offset, limit, count_cap), compute)

    def _relevance_page(
        self, filters: Filters, terms: tuple[str, ...], offset: int, limit: int, count_cap: int | None
    ) -> Page:
        clauses = [(occur, q if occur is Occur.MustNot else Query.const_score_query(q, 0.0))
                   for occur, q in filter_clauses(filters)]
        words_key = ("words", terms)
        if clauses or self.snapshot.cached(words_key) is not None:
            return self.snapshot.relevance_page(self._words(terms), clauses, offset, limit, count_cap)
        # Unfiltered and not planned yet: the page's own total tells whether the words as typed match
        # anything (``_words`` would count that separately first: one more engine pass).
        exact = self._plan(terms, typos=False)
        page = self.snapshot.relevance_page(exact, clauses, offset, limit, count_cap)
        if page.total or not exact:
            self.snapshot.keep(words_key, exact)
            return page
        words = self._plan(terms, typos=True)
        self.snapshot.keep(words_key, words)
        return self.snapshot.relevance_page(words, clauses, offset, limit, count_cap)

    def count(self, filters: Filters, terms: tuple[str, ...] | None = None) -> int:
        return self.snapshot.remember(
            ("count", filters, terms), lambda: self.snapshot.count(self._query(filters, terms))
        )

    def exists(self, filters: Filters, terms: tuple[str, ...] | None = None) -> bool:
        return self.count(filters, terms) > 0

    def cards(self, hits: Sequence[Hit]) -> list[Card]:
        return self.snapshot.read_cards(hits)

    def snippets(self, terms: tuple[str, ...], hits: Sequence[Hit]) -> dict[uuid.UUID, str]:
        return self.snapshot.remember(
            ("snippets", terms, tuple(hit.id for hit in hits)),
            lambda: self.snapshot.snippets(self._words(terms), hits),
        )

    def facets(self, filters: Filters, terms: tuple[str, ...] | None) -> Facets:
        return self.snapshot.remember(
            ("facets", filters, terms), lambda: self.snapshot.facets(self._query(filters, terms))
        )
