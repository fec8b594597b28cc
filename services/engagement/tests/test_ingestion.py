"""E1: engagement events are recorded best effort, batched, and throttled per visitor session
(VIEW once per 10 min, CLICK once per 5 min, ADD_TO_CART once per product per session)."""

from __future__ import annotations

import datetime as dt

from support import Engagement

from engagement.ingestion import service
from engagement.ingestion.domain import Incoming
from engagement.models import EngagementEvent, EventKind, ProductDay, ThrottleMark, TrendingDirty

T0 = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
SESSION = dt.timedelta(days=14)


async def day_counts(eng: Engagement, product_id: str, day: dt.date) -> tuple[int, int, int]:
    async with eng.session() as session:
        row = await session.get(ProductDay, (product_id, day))
        return (row.views, row.clicks, row.add_to_cart) if row else (0, 0, 0)


async def record(eng: Engagement, *events: tuple[EventKind, str, str, dt.datetime]) -> service.BatchOutcome:
    async with eng.session() as session:
        return await service.record_batch(session, [Incoming(*e) for e in events], session_life=SESSION)


async def test_e1_http_ingestion_is_queued_then_written_in_one_batch_with_throttles(eng: Engagement) -> None:
    product = await eng.publish_product()
    other = await eng.publish_product()
    response = await eng.ingest(
        ("VIEW", product, "visitor-a"), ("VIEW", product, "visitor-a"),  # the second is within 10 min
        ("VIEW", product, "visitor-b"), ("VIEW", other, "visitor-a"),  # another visitor; another product
        ("CLICK", product, "visitor-a"), ("CLICK", product, "visitor-a"),
        ("ADD_TO_CART", product, "visitor-a"), ("ADD_TO_CART", product, "visitor-a"),
        ("VIEW", "no-such-product", "visitor-a"),
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"queued": 9, "dropped": 0}
    assert await eng.count(EngagementEvent) == 0  # answered before anything was written
    await eng.buffer.flush()
    today = dt.datetime.now(dt.UTC).date()
    assert await day_counts(eng, product, today) == (2, 1, 1)
    assert await day_counts(eng, other, today) == (1, 0, 0)
    assert await eng.count(EngagementEvent) == 5
    assert (eng.buffer.drain.stats.batches, eng.buffer.recorded.recorded, eng.buffer.recorded.throttled,
            eng.buffer.recorded.unknown_product) == (1, 5, 3, 1)
    async with eng.session() as session:
        marks = (await session.scalars(ThrottleMark.__table__.select())).all()
    assert all("visitor-a" not in str(mark) for mark in marks)  # only a hash of the session key is stored
    assert await eng.count(TrendingDirty) == 2  # both products' scores are to be recomputed

    # The same calls again, straight away: everything is throttled now.
    await eng.ingest(("VIEW", product, "visitor-a"), ("CLICK", product, "visitor-a"), ("ADD_TO_CART", product, "visitor-a"))
    await eng.buffer.flush()
    assert await day_counts(eng, product, today) == (2, 1, 1)


async def test_e1_throttle_periods_per_kind(eng: Engagement) -> None:
    p = await eng.publish_product()
    minute = dt.timedelta(minutes=1)
    second = dt.timedelta(seconds=1)
    day = T0.date()
    assert (await record(eng, (EventKind.VIEW, p, "v", T0), (EventKind.CLICK, p, "v", T0),
                         (EventKind.ADD_TO_CART, p, "v", T0))).recorded == 3
    # Just before each period ends: nothing counts.
    outcome = await record(eng, (EventKind.VIEW, p, "v", T0 + 10 * minute - second),
                           (EventKind.CLICK, p, "v", T0 + 5 * minute - second))
    assert (outcome.recorded, outcome.throttled) == (0, 2)
    # At 5 minutes a click counts again, a view does not; at 10 minutes the view does.
    assert (await record(eng, (EventKind.CLICK, p, "v", T0 + 5 * minute), (EventKind.VIEW, p, "v", T0 + 5 * minute))).recorded == 1
    assert (await record(eng, (EventKind.VIEW, p, "v", T0 + 10 * minute))).recorded == 1
    # ADD_TO_CART: once per product per session, however much later within it; another product counts.
    q = await eng.publish_product()
    outcome = await record(eng, (EventKind.ADD_TO_CART, p, "v", T0 + dt.timedelta(days=13)),
                           (EventKind.ADD_TO_CART, q, "v", T0 + dt.timedelta(days=13)))
    assert (outcome.recorded, outcome.throttled) == (1, 1)
    assert await day_counts(eng, p, day) == (2, 2, 1)


async def test_e1_events_of_unlisted_products_are_not_recorded(eng: Engagement) -> None:
    p = await eng.publish_product()
    await eng.unlist_product(p)
    outcome = await record(eng, (EventKind.VIEW, p, "v", T0))
    assert (outcome.recorded, outcome.unknown_product) == (0, 1)
    assert await eng.count(EngagementEvent) == 0


async def test_bad_ingestion_calls_are_refused_and_queue_nothing(eng: Engagement) -> None:
    p = await eng.publish_product()
    url = "/internal/engagement-events"
    one = {"events": [{"type": "VIEW", "product_id": p, "visitor": "v"}]}
    cases = [
        ({"events": [{"type": "LIKE", "product_id": p, "visitor": "v"}]}, eng.service(), 422),
        ({"events": []}, eng.service(), 422),
        ({"events": [{"type": "VIEW", "product_id": p, "visitor": "v"}] * 1001}, eng.service(), 422),
        ({"events": [{"type": "VIEW", "product_id": p, "visitor": ""}]}, eng.service(), 422),
        ({"events": [{"type": "VIEW", "product_id": p, "visitor": "v", "at": "2020-01-01T00:00:00Z"}]}, eng.service(), 422),
        (one, eng.user("someone"), 403),  # only services (the gateway) and owners
        (one, {}, 401),
    ]
    for body, headers, expected in cases:
        response = await eng.client.post(url, json=body, headers=headers)
        assert response.status_code == expected, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert eng.buffer.pending == 0


async def test_a_full_buffer_drops_events_instead_of_slowing_the_caller(eng: Engagement) -> None:
    p = await eng.publish_product()
    eng.buffer.drain.max_pending = 3
    response = await eng.ingest(*[("VIEW", p, f"v{i}") for i in range(5)])
    assert response.status_code == 202
    assert response.json() == {"queued": 3, "dropped": 2}
    await eng.buffer.flush()
    assert await eng.count(EngagementEvent) == 3
    stats = await eng.client.get("/internal/engagement-events/stats", headers=eng.owner())
    assert stats.json()["dropped_full"] == 2


async def test_pruning_drops_expired_throttle_marks_and_old_raw_events_but_keeps_the_aggregates(eng: Engagement) -> None:
    from engagement.ingestion.housekeeping import prune

    p = await eng.publish_product()
    await record(eng, (EventKind.VIEW, p, "v", T0), (EventKind.ADD_TO_CART, p, "v", T0))
    await record(eng, (EventKind.VIEW, p, "w", T0 + dt.timedelta(days=40)))
    async with eng.session() as session:
        # 40 days and 11 minutes on: the first VIEW mark and event are gone, the cart mark (14-day
        # session) too; the second VIEW's mark (blocked for 10 minutes) has expired as well.
        assert await prune(session, T0 + dt.timedelta(days=40, minutes=11), dt.timedelta(days=35)) == (3, 2)
    assert await eng.count(EngagementEvent) == 1
    assert await day_counts(eng, p, T0.date()) == (1, 0, 1)
