"""The trending reads: the top-N list and the per-product explanation ("why is this trending")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from engagement.trending import domain, repository
from engagement.trending.schemas import DayPart, SignalPart, TrendingExplanation, TrendingItem, TrendingList
from homecraft_shared.db import utcnow
from homecraft_shared.errors import NotFound
from homecraft_shared.identity import Identity


async def top_list(session: AsyncSession, limit: int) -> TrendingList:
    rows = await repository.top(session, max(limit, domain.BADGE_TOP_N))
    ranked = [domain.Ranked(r.product_id, r.score, r.avg_rating, r.first_published_at) for r in rows]
    badges = set(domain.badge_ids(ranked))
    return TrendingList(
        window_days=domain.WINDOW_DAYS,
        items=[TrendingItem(product_id=r.product_id, score=r.score, avg_rating=round(r.avg_rating, 4),
                            badge=r.product_id in badges) for r in ranked[:limit]],
    )


async def explanation(session: AsyncSession, identity: Identity, product_id: str, *,
                      now: dt.datetime | None = None) -> TrendingExplanation:
    products = await repository.products(session, [product_id])
    product = products.get(product_id)
    if product is None or not (identity.is_owner or product.seller_id == identity.user_id):
        raise NotFound(f"Product {product_id} does not exist or is not yours.")
    today = (now or utcnow()).astimezone(dt.UTC).date()
    first = domain.window_start(today)
    day_rows = await repository.days(session, product_id, first, today)
    rating_sum, rating_count = (await repository.product_ratings(session, [product_id])).get(product_id, (0, 0))
    avg = domain.average(rating_sum, rating_count)
    total = domain.Counts()
    days = []
    for row in day_rows:
        counts = domain.Counts(row.views, row.clicks, row.add_to_cart, row.purchases, row.reviews)
        total = total + counts
        days.append(DayPart(day=row.day, views=row.views, clicks=row.clicks, add_to_cart=row.add_to_cart,
                            purchases=row.purchases, reviews=row.reviews, contribution=domain.day_contribution(counts)))
    stored = await repository.score_of(session, product_id)
    top = await top_list(session, domain.BADGE_TOP_N)
    return TrendingExplanation(
        product_id=product_id,
        score=domain.score(total, avg) if product.is_listed else 0.0,
        published_score=stored.score if stored else 0.0,
        badge=any(item.product_id == product_id and item.badge for item in top.items),
        window_first_day=first,
        window_last_day=today,
        parts=[SignalPart(**vars(part)) for part in domain.parts(total, avg)],
        days=days,
    )
