"""Trending (C7), maintained incrementally: whatever changes a product's counts marks it dirty; every
few seconds the dirty products' scores are recomputed from at most 30 daily rows each, and the
changed ones are published to catalog (``trending.scores_updated``, not complete). Reading the top
products reads only the scores table. Never commits: the caller does (the loop, one transaction per
round, so new scores and their event commit together).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engagement.models import TrendingScore
from engagement.trending import domain, repository
from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from homecraft_shared.events.engagement import ProductScore, TrendingScoresUpdatedV1
from homecraft_shared.messaging.outbox import record_event

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 5_000


async def roll_window(session: AsyncSession, today: dt.date) -> None:
    """When the window moved (a new UTC day), the products active on the days that left it change score."""
    start = domain.window_start(today)
    state = await repository.window_state(session)
    if state is not None and state.window_start < start:
        await repository.mark_products_with_days(session, state.window_start, start)
    if state is None or state.window_start != start:
        repository.set_window_state(session, state, start)


async def recompute(session: AsyncSession, product_ids: list[str], now: dt.datetime) -> list[ProductScore]:
    """Recompute these products' scores; store them; return those that changed (to publish)."""
    today = now.astimezone(dt.UTC).date()
    counts = await repository.window_counts(session, product_ids, domain.window_start(today), today)
    ratings = await repository.product_ratings(session, product_ids)
    products = await repository.products(session, product_ids)
    stored = await repository.scores(session, product_ids)
    changed: list[ProductScore] = []
    for product_id in product_ids:
        product = products.get(product_id)
        avg = domain.average(*ratings.get(product_id, (0, 0)))
        # A product catalog does not list (or has not told us about yet) scores 0 until it is listed.
        new = domain.score(counts.get(product_id, domain.Counts()), avg) if product and product.is_listed else 0.0
        row = stored.get(product_id)
        if domain.changed(row.score if row else None, new):
            changed.append(ProductScore(product_id=product_id, score=new))
        if row is None:
            if new > 0:
                session.add(TrendingScore(product_id=product_id, score=new, avg_rating=avg, computed_at=now,
                                          first_published_at=product.first_published_at if product else None))
            continue
        row.score, row.avg_rating, row.computed_at = new, avg, now
        row.first_published_at = product.first_published_at if product else row.first_published_at
    return changed


async def refresh(session: AsyncSession, now: dt.datetime, *, max_per_event: int) -> int:
    """One round: roll the window, recompute every dirty product, publish the changed scores."""
    await roll_window(session, now.astimezone(dt.UTC).date())
    published = 0
    while product_ids := await repository.claim_dirty(session, CLAIM_LIMIT):
        changed = await recompute(session, product_ids, now)
        for start in range(0, len(changed), max_per_event):
            chunk = changed[start:start + max_per_event]
            record_event(session, TrendingScoresUpdatedV1(computed_at=now, complete=False, scores=chunk),
                         subject_id="trending")
        published += len(changed)
        if len(product_ids) < CLAIM_LIMIT:
            break
    return published


async def run_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    interval_seconds: float,
    max_per_event: int,
    clock: Callable[[], dt.datetime] = utcnow,
) -> None:
    """Every ``interval_seconds``: one ``refresh`` in its own transaction. A failed round is logged and
    the next one retries (the dirty marks were rolled back with it)."""

    async def one_round() -> int:
        async with sessionmaker() as session:
            await refresh(session, clock(), max_per_event=max_per_event)
            await session.commit()
        return 0

    await run_passes(one_round, poll_seconds=interval_seconds, logger=logger,
                     failure_message="trending refresh failed; retrying next round")
