"""What a visitor typed, and a list's filters, as engine queries (C5).

The words come from ``catalog.browse.search.search_terms`` (letters and digits only, lower-cased, at
most 8), so nothing here parses query syntax and no input can be a syntax error. Each word is looked
up the way it was indexed (``schema.ANALYZER``: stemmed), and the query is built from term, prefix
and fuzzy queries, never from a query string:

* every word is required (in any of title, short or long description, each field boosted like the
  old bm25 weights: title 10, short 4, long 1);
* the last word, from ``MIN_PREFIX_LENGTH`` characters, also matches as a prefix ("drag" finds
  "dragon" while typing): the ``MAX_PREFIX_EXPANSIONS`` most frequent index terms of each field that
  start with it (``expand_prefixes``, read from the index's term dictionary), as term queries the
  engine can walk, instead of an automaton that unions every such term's postings per search
  (decision 0111);
* typo tolerance for longer words, when the words as typed match nothing: from ``ONE_TYPO_LENGTH``
  characters a word also matches words one edit away ("dragn" finds "dragon"), from
  ``TWO_TYPOS_LENGTH`` two edits away. Shorter words must match exactly: one edit from a four-letter
  word is another word. (Only as a fallback: a word that is found as typed is not a typo, and
  fuzzy lookups cost several times an exact one.) An exact match scores higher than a fuzzy one;
* relevance tiers: ``Tier.TITLE`` (every word in the title) ranks before ``Tier.REST`` (the other
  matches), see ``catalog.search.index``.

Filters (kind, categories, free, can-buy, price range, review count, trending signal, hidden
categories) are constant-score clauses: they narrow the matches and never change a score.
"""

from __future__ import annotations

import enum
import math
import uuid
from dataclasses import dataclass, replace

from tantivy import FieldType, Occur, Query, Searcher

from catalog.search.schema import ANALYZER, FIELD_BOOSTS, SCHEMA

MIN_PREFIX_LENGTH = 3
ONE_TYPO_LENGTH = 5
TWO_TYPOS_LENGTH = 9
# A prefix or fuzzy match counts for this share of the field's boost (an exact word scores by bm25).
LOOSE_MATCH_WEIGHT = 0.5
# The last word's prefix matches at most this many index terms per field, the most frequent ones
# (as Elasticsearch's match_phrase_prefix max_expansions, whose default is 50): a rarer word with
# that prefix is found once more letters are typed.
MAX_PREFIX_EXPANSIONS = 50
# The fields that rank a match first when a word is found there (``strong_match``), and tantivy's BM25
# saturation constant k1 (a term's score is idf * boost * (1 + k1) * tf / (tf + k1 * norm), so always
# below idf * boost * (1 + k1)): ``weak_only_bound`` bounds what a match in the long description
# alone can score (decision 0112).
STRONG_FIELDS = ("title", "short")
# One word: the narrowed queries of two words (one per word, merged) measured slower than ranking
# every match at 1,000,000 products (decision 0112); the code is general, the limit is measured.
MAX_STRONG_WORDS = 1
BM25_K1 = 1.2


class Tier(enum.Enum):
    ALL = "all"
    TITLE = "title"  # every word in the title
    REST = "rest"  # matches that are not title matches


@dataclass(frozen=True)
class Word:
    """One query word as the engine looks it up."""

    tokens: tuple[str, ...]  # analysed (stemmed) forms, all required
    prefix: str | None  # the raw word, matched as a prefix (last word only)
    fuzzy: tuple[tuple[str, int], ...]  # (form, edit distance) for typo tolerance
    # (field, terms) the prefix stands for, from ``expand_prefixes``; None: every term with the prefix
    expansions: tuple[tuple[str, tuple[str, ...]], ...] | None = None


def plan_words(terms: tuple[str, ...] | list[str], *, typos: bool = True) -> list[Word]:
    """The words as the engine looks them up; ``typos`` False: exact (and prefix) only."""
    words = []
    for position, term in enumerate(terms):
        tokens = tuple(ANALYZER.analyze(term))
        if not tokens:
            continue
        last = position == len(terms) - 1
        fuzzy = {(form, _typos(form)) for form in {term, *tokens} if typos and _typos(form)}
        words.append(
            Word(tokens=tokens, prefix=term if last and len(term) >= MIN_PREFIX_LENGTH else None,
                 fuzzy=tuple(sorted(fuzzy)))
        )
    return words


def expand_prefixes(words: list[Word], searcher: Searcher) -> list[Word]:
    """The words with each prefix resolved to its ``MAX_PREFIX_EXPANSIONS`` most frequent terms per
    field in this searcher's index (ties by term, so the choice is stable)."""
    out = []
    for word in words:
        if word.prefix:
            expansions = []
            for field in FIELD_BOOSTS:
                found = sorted(searcher.terms_with_prefix(field, word.prefix), key=lambda t: (-t[1], t[0]))
                expansions.append((field, tuple(term for term, _ in found[:MAX_PREFIX_EXPANSIONS])))
            word = replace(word, expansions=tuple(expansions))
        out.append(word)
    return out


def _typos(word: str) -> int:
    if len(word) >= TWO_TYPOS_LENGTH:
        return 2
    return 1 if len(word) >= ONE_TYPO_LENGTH else 0


def _word_in_field(word: Word, field: str) -> Query:
    boost = FIELD_BOOSTS[field]
    exact = [Query.term_query(SCHEMA, field, token) for token in word.tokens]
    exact_query = exact[0] if len(exact) == 1 else Query.boolean_query([(Occur.Must, q) for q in exact])
    clauses = [(Occur.Should, Query.boost_query(exact_query, boost))]
    loose = []
    if word.prefix:
        terms = dict(word.expansions).get(field, ()) if word.expansions is not None else None
        if terms is None:
            loose.append(Query.fuzzy_term_query(SCHEMA, field, word.prefix, 0, True, True))
        elif terms:
            loose.append(Query.boolean_query([(Occur.Should, Query.term_query(SCHEMA, field, t)) for t in terms]))
    loose.extend(Query.fuzzy_term_query(SCHEMA, field, form, distance, True, False) for form, distance in word.fuzzy)
    clauses.extend((Occur.Should, Query.const_score_query(q, boost * LOOSE_MATCH_WEIGHT)) for q in loose)
    return Query.boolean_query(clauses)


def _words_query(words: list[Word], fields: tuple[str, ...]) -> Query:
    musts = []
    for word in words:
        per_field = [_word_in_field(word, field) for field in fields]
        musts.append(per_field[0] if len(per_field) == 1 else Query.boolean_query([(Occur.Should, q) for q in per_field]))
    return Query.boolean_query([(Occur.Must, q) for q in musts])


def rest_strong_queries(words: list[Word]) -> list[Query]:
    """``text_query(words, Tier.REST)`` narrowed to its *strong* matches (a word in a ``STRONG_FIELDS``
    field), scoring each exactly as that query does: one query per word, that word found in a strong
    field (their union is the strong matches).

    The narrowed word's clause keeps its per-field clauses in the same order, the strong fields
    required and the long description optional, and the other words' clauses are unchanged: the
    engine adds the same field scores in the same order (title, short, then description; word by
    word), so the scores are equal to the last bit (tested), and it walks the strong fields' postings
    of that word instead of every field's. At most ``MAX_STRONG_WORDS`` words (else no query; never
    more than two: the engine sums the words' scores in an order of its own, and only a sum of two is
    the same either way).
    """
    if len(words) > MAX_STRONG_WORDS:
        return []
    out = []
    for narrowed in range(len(words)):
        musts = []
        for position, word in enumerate(words):
            if position == narrowed:
                strong = Query.boolean_query([(Occur.Should, _word_in_field(word, f)) for f in STRONG_FIELDS])
                weak = [(Occur.Should, _word_in_field(word, f)) for f in FIELD_BOOSTS if f not in STRONG_FIELDS]
                musts.append(Query.boolean_query([(Occur.Must, strong), *weak]))
            else:
                musts.append(Query.boolean_query([(Occur.Should, _word_in_field(word, f)) for f in FIELD_BOOSTS]))
        out.append(Query.boolean_query([(Occur.Must, Query.boolean_query([(Occur.Must, q) for q in musts])),
                                        (Occur.MustNot, _words_query(words, ("title",)))]))
    return out


def weak_only_bound(words: list[Word], searcher: Searcher) -> float:
    """More than any match can score (unweighted) that has none of the words in a ``STRONG_FIELDS``
    field, i.e. every word in the long description only: per word, the BM25 bound of each of its forms
    there (idf from the document frequency and an upper bound of the document count, deleted
    documents included: every document holds ``is_free`` true or false) plus its loose matches."""
    field = "description"
    boost = FIELD_BOOSTS[field]
    documents = max(int(searcher.num_docs), searcher.doc_freq("is_free", True) + searcher.doc_freq("is_free", False))
    bound = 0.0
    for word in words:
        for token in word.tokens:
            found_in = searcher.doc_freq(field, token)
            if found_in:
                idf = math.log(1.0 + (documents - found_in + 0.5) / (found_in + 0.5))
                bound += boost * idf * (1.0 + BM25_K1)
        loose = (1 if word.prefix else 0) + len(word.fuzzy)
        bound += loose * boost * LOOSE_MATCH_WEIGHT
    # Strictly more: the engine adds single-precision scores (a few parts in ten million each).
    return bound * (1.0 + 1e-4) + 1e-6


def text_query(words: list[Word], tier: Tier = Tier.ALL) -> Query:
    """Every word required; ``Tier.TITLE``: all in the title; ``Tier.REST``: the matches that are not."""
    if not words:
        return Query.empty_query()
    if tier is Tier.TITLE:
        return _words_query(words, ("title",))
    anywhere = _words_query(words, tuple(FIELD_BOOSTS))
    if tier is Tier.ALL:
        return anywhere
    return Query.boolean_query([(Occur.Must, anywhere), (Occur.MustNot, _words_query(words, ("title",)))])


@dataclass(frozen=True)
class Filters:
    """Which indexed (so published, active) products a list covers; ``None`` means either way."""

    kind: str | None = None
    category_ids: tuple[int, ...] | None = None
    hidden_category_ids: tuple[int, ...] = ()
    exclude_ids: tuple[uuid.UUID, ...] = ()
    is_free: bool | None = None
    can_buy: bool | None = None
    price_min_cents: int | None = None
    price_max_cents: int | None = None
    featured: bool | None = None
    manual_trending: bool | None = None
    positive_score: bool = False
    min_reviews: int | None = None
    trending_signal: bool = False  # a score above 0 or the manual flag


def _bool(field: str, value: bool) -> Query:
    return Query.term_query(SCHEMA, field, value)


def _positive_score() -> Query:
    return Query.range_query(SCHEMA, "trending_score", FieldType.Float, 0.0, None, include_lower=False)


def filter_clauses(f: Filters) -> list[tuple[Occur, Query]]:
    clauses: list[tuple[Occur, Query]] = []
    if f.kind is not None:
        clauses.append((Occur.Must, Query.term_query(SCHEMA, "kind", f.kind)))
    if f.category_ids is not None:
        clauses.append((Occur.Must, Query.term_set_query(SCHEMA, "category_id", list(f.category_ids))))
    if f.hidden_category_ids:
        clauses.append((Occur.MustNot, Query.term_set_query(SCHEMA, "category_id", list(f.hidden_category_ids))))
    if f.exclude_ids:
        clauses.append((Occur.MustNot, Query.term_set_query(SCHEMA, "id", [p.hex for p in f.exclude_ids])))
    for field, value in (("is_free", f.is_free), ("can_buy", f.can_buy), ("is_featured", f.featured),
                         ("is_trending", f.manual_trending)):
        if value is not None:
            clauses.append((Occur.Must, _bool(field, value)))
    if f.price_min_cents is not None or f.price_max_cents is not None:
        clauses.append((Occur.Must, Query.range_query(
            SCHEMA, "price_cents", FieldType.Integer, f.price_min_cents, f.price_max_cents)))
    if f.positive_score:
        clauses.append((Occur.Must, _positive_score()))
    if f.min_reviews is not None:
        clauses.append((Occur.Must, Query.range_query(SCHEMA, "rating_count", FieldType.Integer, f.min_reviews, None)))
    if f.trending_signal:
        clauses.append((Occur.Must, Query.boolean_query(
            [(Occur.Should, _positive_score()), (Occur.Should, _bool("is_trending", True))])))
    return clauses


def list_query(filters: Filters, text: Query | None = None) -> Query:
    """The text query (or every product) narrowed by the filters, which never add to the score."""
    clauses = [(occur, q if occur is Occur.MustNot else Query.const_score_query(q, 0.0))
               for occur, q in filter_clauses(filters)]
    if not clauses:
        return text if text is not None else Query.all_query()
    base = text if text is not None else Query.all_query()
    return Query.boolean_query([(Occur.Must, base), *clauses])
