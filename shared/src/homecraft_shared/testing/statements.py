"""Counting what reaches the database: how many rows each statement of a kind carried."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def rows_per_statement(engine: Engine | AsyncEngine, prefix: str) -> Iterator[list[int]]:
    """The rows each statement whose SQL starts with ``prefix`` (case-insensitive) carried, statement by statement:
    one for a plain execute, the parameter sets for an executemany. Statements run through
    ``homecraft_shared.connections.Prepared`` skip the engine's events and are not seen."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    wanted = prefix.upper()
    seen: list[int] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith(wanted):
            seen.append(len(parameters) if executemany else 1)

    event.listen(sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(sync_engine, "before_cursor_execute", note)
