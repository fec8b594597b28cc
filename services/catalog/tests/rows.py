"""Rows for the read-side tests (browse, search, home, pages), written straight through the models in
the database the app migrated, so these tests do not depend on the write API; and a statement counter."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.models import CatalogType, Category, ListingStatus, Product, ProductImage, SellerPayoutStatus, SellerRating
from homecraft_shared.db import utcnow
from homecraft_shared.testing.harness import ServiceHarness

_counter = itertools.count(1)
BASE_TIME = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


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


# Tables only the service's background loops (outbox relay, messaging pruner, search projection) read.
BACKGROUND_TABLES = ("outbox_events", "inbox_events", "dead_letters", "search_changes")


class StatementCounter:
    """Counts SQL statements the app's engine runs for requests (to prove a page costs the same
    whatever its size); the background loops' statements on the messaging tables are not counted."""

    def __init__(self, catalog: ServiceHarness) -> None:
        self.engine = catalog.runtime.engine.sync_engine
        self.count = 0

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not any(table in statement for table in BACKGROUND_TABLES):
            self.count += 1

    def __enter__(self) -> StatementCounter:
        sa.event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: Any) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._seen)
