"""Input limits every service's request bodies and parameters use, so a new endpoint is safe by default.

Three kinds of hostile input reach a database and come back as a 500 unless something stops them
at the edge: integers out of a column's range (SQLite stops at 2**63, PostgreSQL's ``integer`` at
2**31), text the database cannot store (PostgreSQL refuses NUL bytes; no driver encodes a lone
surrogate), and page numbers whose offset overflows. The types here bound every value to what
**every supported database** accepts, so both backends accept and refuse the same input:

- body fields (JSON): ``Id``, ``Count``, ``Int32``, ``Cents`` are *strict* integers (``true`` is not
  1, ``"5"`` and ``5.0`` are not 5) within int32; ``Line`` and ``Text`` are strings without control
  characters (``Text`` allows tab and newlines) or lone surrogates;
- path and query parameters arrive as text, so their twins (``IdParam``, ``PageParam``,
  ``QueryText``...) parse the text as usual and apply the same bounds;
- ``Paging`` is the one page/page_size dependency: a page cap and a page-size cap everywhere.

Business limits (a maximum price, a title's length) stay in the services: compose, e.g.
``Annotated[Cents, Field(le=MAX_PRICE_CENTS)]`` or ``Annotated[Line, Field(max_length=160)]``.
"""

# No ``from __future__ import annotations``: ``paging`` builds its parameters' annotations from its
# arguments, which FastAPI can only read if they are evaluated when the function is defined.
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import AfterValidator, BeforeValidator, Field, Strict

INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
# Pages: 1..MAX_PAGE, each at most MAX_PAGE_SIZE items, so the offset stays far inside int32.
MAX_PAGE = 10_000
MAX_PAGE_SIZE = 200

# Control characters a multi-line text may keep.
_TEXT_WHITESPACE = frozenset("\t\n\r")


def _printable(value: str, allowed: frozenset[str]) -> str:
    if value.isprintable():
        # No control character (Cc) and no surrogate (Cs) in it (isprintable is False for both): nothing
        # to refuse, and no per-character look-up for the common case (decision 0206).
        return value
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cs":
            raise ValueError(f"invalid character at position {position}: a lone surrogate (U+{ord(char):04X})")
        if category == "Cc" and char not in allowed:
            raise ValueError(f"control characters are not allowed (U+{ord(char):04X} at position {position})")
    return value


def _single_line(value: str) -> str:
    return _printable(value, frozenset())


def _multi_line(value: str) -> str:
    return _printable(value, _TEXT_WHITESPACE)


# --- body fields (JSON): strict integers, clean text ------------------------------------------

Int32 = Annotated[int, Strict(), Field(ge=INT32_MIN, le=INT32_MAX)]
"""Any integer a 32-bit integer column holds; booleans, strings and floats are refused."""
Id = Annotated[int, Strict(), Field(ge=1, le=INT32_MAX)]
"""A database-generated integer id (1..2**31-1)."""
Count = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
"""A non-negative quantity, position or sort order."""
Cents = Annotated[int, Strict(), Field(ge=0, le=INT32_MAX)]
"""A non-negative amount of money in integer cents; services narrow it to their business maximum."""
Line = Annotated[str, AfterValidator(_single_line)]
"""One line of text: no control characters at all (names, titles, slugs, alt texts)."""
Text = Annotated[str, AfterValidator(_multi_line)]
"""Free text: tab, newline and carriage return allowed, no other control characters."""

T = TypeVar("T")


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


def _drop_null(schema: dict[str, Any]) -> None:
    variants = schema.pop("anyOf", None)
    if variants is not None:
        kept = [variant for variant in variants if variant != {"type": "null"}]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]


Omittable = Annotated[T | None, BeforeValidator(_refuse_null), Field(json_schema_extra=_drop_null)]
"""A PATCH field that may be left out (then it is None in Python) but not sent as null; the
OpenAPI schema says so (not nullable, no default): ``name: Omittable[Line] = None``."""

# --- path and query parameters: parsed from text, same bounds ----------------------------------

IdParam = Annotated[int, Field(ge=1, le=INT32_MAX)]
"""An integer id in a path or query parameter (e.g. ``category_id: IdParam``)."""
CountParam = Annotated[int, Field(ge=0, le=INT32_MAX)]
QueryText = Annotated[str, AfterValidator(_single_line)]
"""A text query parameter (search terms, filters); give it a ``max_length`` with ``Query``."""


@dataclass(frozen=True)
class Page:
    """A validated page window: ``offset`` and ``limit`` are always small enough for any database."""

    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def limit(self) -> int:
        return self.page_size


def paging(default_size: int = 20, max_size: int = 100) -> Callable[..., Any]:
    """A FastAPI dependency reading ``page`` (1..MAX_PAGE) and ``page_size`` (1..max_size):

    ``PageDep = Annotated[Page, Depends(paging(24, 60))]``.
    """
    if not 1 <= default_size <= max_size <= MAX_PAGE_SIZE:
        raise ValueError(f"need 1 <= default_size <= max_size <= {MAX_PAGE_SIZE}")

    def dependency(
        page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number (at most {MAX_PAGE})")] = 1,
        page_size: Annotated[int, Query(ge=1, le=max_size, description=f"items per page (at most {max_size})")] = default_size,
    ) -> Page:
        return Page(page, page_size)

    return dependency


Paging = Annotated[Page, Depends(paging())]
"""The default page window: 20 a page, at most 100."""
