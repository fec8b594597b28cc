"""``INSERT ... ON CONFLICT`` for the backend a session is bound to (SQLite or PostgreSQL).

Both dialects spell upserts the same way in SQLAlchemy (``on_conflict_do_update`` /
``on_conflict_do_nothing``, ``excluded``, ``returning``), but through their own ``insert``; this
picks the right one so services write one statement for both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from homecraft_shared.db import dialect_of


def insert_for(bind: AsyncSession | AsyncConnection, table: Any) -> Any:
    """A dialect ``insert(table)`` supporting ``on_conflict_do_update`` / ``on_conflict_do_nothing``."""
    dialect = dialect_of(bind) if isinstance(bind, AsyncSession) else bind.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"no upsert for the {dialect} dialect")
