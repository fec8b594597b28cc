"""Fixture data for the read-side tests (browse, search, home, pages): rows written straight through the
models, in the real database the app migrated, so these tests do not depend on the write API."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.app import create_app
from catalog.models import CatalogType, Category, ListingStatus, Product, ProductImage, SellerPayoutStatus, SellerRating
from catalog.settings import CatalogSettings
from homecraft_shared.db import utcnow
from homecraft_shared.testing import serve_app

_counter = itertools.count(1)
BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Catalog:
    client: httpx.AsyncClient
    app: FastAPI
    sessionmaker: async_sessionmaker[AsyncSession]

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session
            await session.commit()

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()


@contextlib.asynccontextmanager
async def running_catalog(
    database_url: str, nats_url: str, public_pem: str, tmp_path: Any = None, *, read_cache_seconds: float = 0
) -> AsyncIterator[Catalog]:
    """The catalog app over ASGI. Its read cache is off by default: these tests write rows and read
    them back at once (a test about the cache itself turns it on)."""
    settings: dict[str, Any] = {"database_url": database_url, "nats_url": nats_url, "identity_public_key": public_pem,
                                "read_cache_seconds": read_cache_seconds}
    if tmp_path is not None:
        settings["media_root"] = tmp_path / "media"
    app = create_app(CatalogSettings(**settings))
    stopper: asyncio.Task[None] | None = None
    try:
        async with serve_app(app) as client:
            try:
                yield Catalog(client=client, app=app, sessionmaker=app.state.runtime.sessionmaker)
            finally:
                stopper = asyncio.create_task(_keep_cancelling(app.state.runtime))
    finally:
        if stopper is not None:
            stopper.cancel()


async def _keep_cancelling(runtime: Any) -> None:
    """Work-around for shutdowns that hang: the event consumer's fetch loop (shared) sometimes swallows
    the cancellation ``ServiceRuntime.stop`` sends (a nats-py fetch racing its own timeout), and then
    fetches forever. Cancelling again until the background tasks are gone ends them."""
    while True:
        await asyncio.sleep(0.5)
        for task in list(runtime._tasks):
            if not task.done():
                task.cancel()


def category(session: AsyncSession, name: str, kind: CatalogType = CatalogType.FILE, *, parent: Category | None = None,
             active: bool = True, sort_order: int = 0) -> Category:
    row = Category(
        type=kind, name=name, slug=name.lower().replace(" ", "-"), parent=parent,
        parent_key=0 if parent is None else parent.id, is_active=active, sort_order=sort_order,
    )
    session.add(row)
    return row


def product(
    session: AsyncSession,
    cat: Category,
    title: str,
    *,
    age_days: float | None = None,
    seller: str = "seller-ready",
    status: ListingStatus = ListingStatus.PUBLISHED,
    active: bool = True,
    featured: bool = False,
    trending: bool = False,
    score: float = 0.0,
    ratings: tuple[int, int] = (0, 0),
    short: str = "",
    description: str = "",
    seller_is_owner: bool = False,
    price_cents: int = 1500,
    **extra: Any,
) -> Product:
    """``age_days`` sets created_at that many days before BASE_TIME; by default each product is
    newer than the one made before it."""
    n = next(_counter)
    created = BASE_TIME - dt.timedelta(days=age_days) if age_days is not None else BASE_TIME + dt.timedelta(minutes=n)
    row = Product(
        id=uuid.uuid4(), seller_id=seller, kind=cat.type, title=title, slug=f"p-{n}", short_description=short,
        description=description, category=cat, price_cents=price_cents, status=status, is_active=active,
        is_featured=featured, is_trending=trending, trending_score=score, rating_sum=ratings[0],
        rating_count=ratings[1], seller_is_owner=seller_is_owner, created_at=created, updated_at=created,
        published_at=created if status == ListingStatus.PUBLISHED else None, **extra,
    )
    session.add(row)
    return row


def payout(session: AsyncSession, seller: str, ready: bool) -> None:
    session.add(SellerPayoutStatus(seller_id=seller, ready=ready, as_of=utcnow()))


def seller_rating(session: AsyncSession, seller: str, rating_sum: int, rating_count: int) -> None:
    session.add(SellerRating(seller_id=seller, rating_sum=rating_sum, rating_count=rating_count, as_of=utcnow()))


def image(session: AsyncSession, prod: Product, *, primary: bool = False, sort_order: int = 0) -> str:
    key = uuid.uuid4().hex
    session.add(ProductImage(product=prod, storage_key=key, content_type="image/png", size_bytes=10,
                             is_primary=primary, sort_order=sort_order))
    return key


def titles(body: dict[str, Any], key: str = "items") -> list[str]:
    return [card["title"] for card in body[key]]


# Tables only the service's background loops (outbox relay, messaging pruner) touch.
BACKGROUND_TABLES = ("outbox_events", "inbox_events", "dead_letters")


class StatementCounter:
    """Counts SQL statements the app's engine runs for requests (to prove a page costs the same
    whatever its size); the background loops' statements on the messaging tables are not counted."""

    def __init__(self, catalog: Catalog) -> None:
        self.engine = catalog.app.state.runtime.engine.sync_engine
        self.count = 0

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not any(table in statement for table in BACKGROUND_TABLES):
            self.count += 1

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: Any) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)
