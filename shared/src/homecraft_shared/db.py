"""Async SQLAlchemy 2 setup: SQLite (aiosqlite) by default, PostgreSQL (asyncpg) given a URL.

Unit of work: services and repositories never commit; the request (``dependencies.DbSession``,
i.e. ``ServiceRuntime.session``) or the event handler (the consumer) owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, Integer, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from homecraft_shared.errors import Conflict

# Stable constraint names, so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-increment big integer that SQLite accepts as its rowid alias.
BigIntPK = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use homecraft_shared.db.utcnow()")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def string_enum(kind: type[enum.StrEnum], length: int = 16) -> Enum:
    """A column type for a ``StrEnum`` stored as its plain string values (no native enum type), so
    adding a value is not a schema change."""
    return Enum(kind, native_enum=False, length=length, values_callable=lambda members: [m.value for m in members])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base for every service's models (each process only imports its own)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL, not NORMAL: in WAL mode NORMAL can lose the last commits on power loss, after their
    # events were published and acted on elsewhere (decision 0002).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_of(session: AsyncSession) -> str:
    """The database behind ``session``: "sqlite" or "postgresql"."""
    return session.get_bind().dialect.name


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def flush_or_conflict(session: AsyncSession, message: str) -> None:
    """Flush, turning a unique-constraint violation into a 409 with ``message``.

    For the race a check-then-insert leaves open: two requests both found the name free, and the
    database's constraint decides. The request's transaction is rolled back by its owner.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc
