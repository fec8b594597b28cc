"""The words of what a visitor typed (C5): letters and digits only, so nothing built from them can be
a syntax error. ``catalog.search.query`` turns them into engine queries (every word required, the
last one also a prefix so "drag" finds "dragon" while typing).
"""

from __future__ import annotations

import re

MAX_TERMS = 8
MAX_TERM_LENGTH = 40

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
