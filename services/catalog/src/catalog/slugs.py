"""URL slugs made from names and titles (C1, C2)."""

from __future__ import annotations

import re
import unicodedata

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str, *, max_length: int, fallback: str) -> str:
    """ASCII, lower case, words joined by '-', at most ``max_length`` characters; ``fallback`` if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:max_length].rstrip("-")
    return slug or fallback


def first_free(base: str, taken: set[str], *, max_length: int) -> str:
    """``base``, else ``base-2``, ``base-3``, ... — the first not in ``taken``, within ``max_length``."""
    if base not in taken:
        return base
    number = 2
    while True:
        suffix = f"-{number}"
        candidate = base[: max_length - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
        number += 1
