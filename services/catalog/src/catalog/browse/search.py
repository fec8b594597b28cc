"""Turning what a visitor typed into a full-text query that cannot be a syntax error (C5).

Pure functions, no framework: the repository hands their output to SQLite FTS5 (``MATCH``) or to
PostgreSQL (``to_tsquery``) as a bound parameter. Only letters and digits survive, every term is
required (AND), and the last term also matches as a prefix so "drag" finds "dragon" while typing.
"""

from __future__ import annotations

import re

MAX_TERMS = 8
MAX_TERM_LENGTH = 40
# A prefix shorter than this would match a large part of the vocabulary for little value.
MIN_PREFIX_LENGTH = 3

_TERM = re.compile(r"[^\W_]+", re.UNICODE)


def search_terms(q: str | None) -> list[str]:
    """The words of a query: letters and digits only, lower-cased, at most ``MAX_TERMS``, de-duplicated."""
    if not q:
        return []
    seen: dict[str, None] = {}
    for match in _TERM.findall(q.lower()):
        seen.setdefault(match[:MAX_TERM_LENGTH], None)
        if len(seen) == MAX_TERMS:
            break
    return list(seen)


def fts5_query(terms: list[str]) -> str:
    """An FTS5 MATCH expression: each term a quoted string (so ``AND``, ``NEAR``, ``*``, ``"`` are just text)."""
    parts = [_fts5_string(term) for term in terms]
    if parts and len(terms[-1]) >= MIN_PREFIX_LENGTH:
        parts[-1] += "*"
    return " ".join(parts)


def _fts5_string(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def tsquery(terms: list[str]) -> str:
    """A PostgreSQL ``to_tsquery`` text: terms joined by ``&``, the last one a prefix (``:*``).

    Terms hold only letters and digits, so the text cannot contain tsquery operators.
    """
    parts = list(terms)
    if parts and len(parts[-1]) >= MIN_PREFIX_LENGTH:
        parts[-1] += ":*"
    return " & ".join(parts)
