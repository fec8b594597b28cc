"""What the read side asks of the search projection: a page of a list or a search in a given order,
counts, cards, snippets and facet counts. Synchronous and in-memory (well under a millisecond for
a page at 100,000 products): no database statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from tantivy import Occur, Query

from catalog.search.index import Card, Facets, Hit, Page, Snapshot, Sort
from catalog.search.query import Filters, Tier, filter_clauses, list_query, plan_words, text_query


class SearchReader:
    """One per request, over the index's searcher current when it was made (one consistent state)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.index = snapshot

    @staticmethod
    def _query(filters: Filters, terms: tuple[str, ...] | None) -> Query:
        if terms is None:
            return list_query(filters)
        return list_query(filters, text_query(plan_words(terms), Tier.ALL))

    def page(self, filters: Filters, terms: tuple[str, ...] | None, sort: Sort, offset: int, limit: int) -> Page:
        """``terms`` None: a list (every indexed product the filters keep); else a search for them
        (no terms: matches nothing). Relevance (searches only) ranks title matches first."""
        if terms is not None and sort is Sort.RELEVANCE:
            clauses = [(occur, q if occur is Occur.MustNot else Query.const_score_query(q, 0.0))
                       for occur, q in filter_clauses(filters)]
            return self.index.relevance_page(plan_words(terms), clauses, offset, limit)
        if sort is Sort.RELEVANCE:
            sort = Sort.NEW
        return self.index.page(self._query(filters, terms), sort, offset, limit)

    def count(self, filters: Filters, terms: tuple[str, ...] | None = None) -> int:
        return self.index.count(self._query(filters, terms))

    def exists(self, filters: Filters, terms: tuple[str, ...] | None = None) -> bool:
        return self.count(filters, terms) > 0

    def cards(self, hits: Sequence[Hit]) -> list[Card]:
        return self.index.cards(hits)

    def snippets(self, terms: tuple[str, ...], hits: Sequence[Hit]) -> dict[uuid.UUID, str]:
        return self.index.snippets(plan_words(terms), hits)

    def facets(self, filters: Filters, terms: tuple[str, ...] | None) -> Facets:
        return self.index.facets(self._query(filters, terms))
