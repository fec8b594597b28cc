"""C7/E1 as properties (hypothesis): for any stream of engagement events, what the incremental
per product per day aggregates hold equals a plain recount of the stream under the E1 throttles,
however the stream is cut into batches; and the C7 score is the weighted sum of those counts."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from support import Engagement

from engagement.ingestion import service as ingestion
from engagement.ingestion.domain import CLICK_EVERY, VIEW_EVERY, Incoming
from engagement.models import EventKind, ProductDay
from engagement.trending import domain

SESSION = dt.timedelta(days=14)
T0 = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)
PERIOD = {EventKind.VIEW: VIEW_EVERY, EventKind.CLICK: CLICK_EVERY, EventKind.ADD_TO_CART: SESSION}
COLUMN = {EventKind.VIEW: "views", EventKind.CLICK: "clicks", EventKind.ADD_TO_CART: "add_to_cart"}

# (seconds after T0, kind, product index, visitor index): few products and visitors, so keys repeat;
# a few hours on each of three days, so throttle periods both hold and expire.
seconds = st.builds(lambda day, s: day * 86_400 + s, st.integers(0, 2), st.integers(0, 4 * 3600))
event = st.tuples(seconds, st.sampled_from(list(EventKind)), st.integers(0, 1), st.integers(0, 1))


def recount(stream: list[tuple[dt.datetime, EventKind, str, str]]) -> Counter[tuple[str, dt.date, str]]:
    """E1 the obvious way: walk the events in time order, remember when each (visitor, kind,
    product) may count again."""
    blocked: dict[tuple[str, EventKind, str], dt.datetime] = {}
    counts: Counter[tuple[str, dt.date, str]] = Counter()
    for at, kind, product, visitor in sorted(stream, key=lambda e: e[0]):
        key = (visitor, kind, product)
        if key in blocked and at < blocked[key]:
            continue
        blocked[key] = at + PERIOD[kind]
        counts[(product, at.date(), COLUMN[kind])] += 1
    return counts


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=60), cuts=st.integers(1, 6))
async def test_incremental_daily_counts_equal_a_recount_of_the_stream(eng: Engagement, events: list[tuple[int, EventKind, int, int]],
                                                                     cuts: int) -> None:
    run = uuid.uuid4().hex[:8]  # fresh products and visitors per example: one database for all of them
    products = [await eng.publish_product(f"{run}-p{i}") for i in range(3)]
    stream = sorted(((T0 + dt.timedelta(seconds=s), kind, products[p], f"{run}-v{v}") for s, kind, p, v in events),
                    key=lambda e: e[0])
    # Batches in time order (as the buffer writes them), cut into ``cuts`` pieces.
    size = max(1, len(stream) // cuts)
    for start in range(0, len(stream), size):
        async with eng.session() as session:
            await ingestion.record_batch(session, [Incoming(k, p, v, at) for at, k, p, v in stream[start:start + size]],
                                         session_life=SESSION)
    expected = recount(stream)
    async with eng.session() as session:
        rows = (await session.scalars(select(ProductDay).where(ProductDay.product_id.in_(products)))).all()
    stored = Counter({(r.product_id, r.day, column): getattr(r, column) for r in rows for column in COLUMN.values()
                      if getattr(r, column)})
    assert stored == expected


@given(views=st.integers(0, 10_000), clicks=st.integers(0, 10_000), carts=st.integers(0, 10_000),
       purchases=st.integers(0, 10_000), reviews=st.integers(0, 10_000), rating_sum=st.integers(0, 50_000))
def test_the_score_is_the_sum_of_its_parts(views: int, clicks: int, carts: int, purchases: int, reviews: int,
                                           rating_sum: int) -> None:
    counts = domain.Counts(views, clicks, carts, purchases, reviews)
    avg = domain.average(min(rating_sum, 5 * reviews), reviews)
    score = domain.score(counts, avg)
    assert score == round(6 * purchases + 3 * carts + 1.25 * clicks + 2 * reviews + 0.25 * views + avg, 6)
    assert abs(sum(part.contribution for part in domain.parts(counts, avg)) - score) < 1e-6
    assert score >= 0
