"""``create_engine`` gives its pool sizes only to the pools that take them: an in-memory SQLite database
and a pool chosen by the caller (``NullPool``) work too, instead of failing on ``pool_size``."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.pool import NullPool

from homecraft_shared.db import create_engine


async def test_an_in_memory_sqlite_database_and_a_pool_chosen_by_the_caller_are_accepted(database_url: str) -> None:
    for engine in (create_engine("sqlite+aiosqlite:///:memory:"), create_engine(database_url, poolclass=NullPool)):
        try:
            async with engine.connect() as connection:
                assert await connection.scalar(text("SELECT 1")) == 1
        finally:
            await engine.dispose()


async def test_a_file_database_keeps_its_pool_size(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        assert engine.pool.size() == (20 if database_url.startswith("sqlite") else 10)
    finally:
        await engine.dispose()
