"""C7: the trending score, maintained incrementally per product per day over a 30-day window, and
published to catalog only for products whose score changed."""

from __future__ import annotations

import datetime as dt

from support import Engagement

from engagement.ingestion import service as ingestion
from engagement.ingestion.domain import Incoming
from engagement.models import EventKind, TrendingDirty
from engagement.trending import domain
from homecraft_shared.db import utcnow

TODAY = dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)  # window: 2026-03-02 .. 2026-03-31
SESSION = dt.timedelta(days=14)
VIEW, CLICK, CART = EventKind.VIEW, EventKind.CLICK, EventKind.ADD_TO_CART


def on(day: int, month: int = 3, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, 10, minute, tzinfo=dt.UTC)


async def record(eng: Engagement, kind: EventKind, product: str, visitor: str, at: dt.datetime) -> int:
    async with eng.session() as session:
        outcome = await ingestion.record_batch(session, [Incoming(kind, product, visitor, at)], session_life=SESSION)
    return outcome.recorded


async def published_scores(eng: Engagement) -> list[dict[str, float]]:
    """Every trending.scores_updated published so far, as {product: score} per event."""
    return [{s["product_id"]: s["score"] for s in data["scores"]} for data in await eng.published("trending.scores_updated")]


def test_c7_formula_weights() -> None:
    counts = domain.Counts(views=4, clicks=2, add_to_cart=1, purchases=1, reviews=1)
    # 6·1 + 3·1 + 1.25·2 + 2·1 + 0.25·4 + 1·4.5
    assert domain.score(counts, 4.5) == 6 + 3 + 2.5 + 2 + 1 + 4.5
    parts = domain.parts(counts, 4.5)
    assert sum(p.contribution for p in parts) == domain.score(counts, 4.5)
    assert [(p.signal, p.count, p.contribution) for p in parts] == [
        ("purchases", 1, 6.0), ("add_to_cart", 1, 3.0), ("clicks", 2, 2.5), ("reviews", 1, 2.0), ("views", 4, 1.0),
        ("avg_rating", 4.5, 4.5)]


def test_c7_window_is_the_30_days_ending_today() -> None:
    today = dt.date(2026, 3, 31)
    assert domain.window_start(today) == dt.date(2026, 3, 2)
    assert domain.in_window(dt.date(2026, 3, 2), today)
    assert not domain.in_window(dt.date(2026, 3, 1), today)


async def test_c7_hand_computed_example_with_window_edge_distinct_counts_ties_and_badge(eng: Engagement) -> None:
    """Reviews are posted now (the HTTP path has no clock to set), so this example is laid out
    around the real today: ``ago(n)`` is n days before it; the window is ago(29) .. today."""
    now = utcnow()

    def ago(days: int, minute: int = 0) -> dt.datetime:
        return (now - dt.timedelta(days=days)).replace(hour=0, minute=minute, second=30, microsecond=0)

    a = await eng.publish_product("aaaaaaaa-0000-0000-0000-000000000001", at=ago(90))
    b = await eng.publish_product("bbbbbbbb-0000-0000-0000-000000000002", at=ago(80))  # newer than a
    c = await eng.publish_product("cccccccc-0000-0000-0000-000000000003", at=ago(90))
    e = await eng.publish_product("eeeeeeee-0000-0000-0000-000000000005", at=ago(90), seller_id="s-e")
    g = await eng.publish_product("99999999-0000-0000-0000-000000000007", at=ago(95), seller_id="s-g")
    # a: views — 5 visitors today, visitor 1 again 5 minutes later (throttled: not distinct), one on
    #    the window's first day (counts), one the day before it (does not) => 6 views
    for visitor in range(1, 6):
        await record(eng, VIEW, a, f"v{visitor}", ago(0))
    assert await record(eng, VIEW, a, "v1", ago(0, minute=5)) == 0
    await record(eng, VIEW, a, "v9", ago(29))
    await record(eng, VIEW, a, "v8", ago(30))
    #    clicks — v1 twice within 5 minutes (one counts), v2 => 2 clicks
    await record(eng, CLICK, a, "v1", ago(1))
    await record(eng, CLICK, a, "v1", ago(1, minute=2))
    await record(eng, CLICK, a, "v2", ago(1))
    #    add to cart — v1 16 days ago and again 11 days ago in the same session (once), v3 => 2
    await record(eng, CART, a, "v1", ago(16))
    await record(eng, CART, a, "v1", ago(11))
    await record(eng, CART, a, "v3", ago(16))
    # a = 0.25·6 + 1.25·2 + 3·2 = 1.5 + 2.5 + 6 = 10.0
    # b: 40 distinct viewers today => 0.25·40 = 10.0: a tie with a, no ratings, b is newer
    for visitor in range(40):
        await record(eng, VIEW, b, f"w{visitor}", ago(0))
    # c: only activity before the window => 0 (no score, no badge)
    await record(eng, VIEW, c, "v1", ago(30))
    await record(eng, CART, c, "v1", ago(30))
    # e: one order with two lines of e paid yesterday (2 distinct purchases; the same order.paid again
    #    adds nothing), one line paid 30 days ago (outside); the buyer reviews all three lines today
    #    (3 reviews in the window) with 4, 2 and 3 stars: avg 3.0
    #    e = 6·2 + 2·3 + 1·3.0 = 12 + 6 + 3 = 21.0
    _, e_lines = await eng.pay_order("buyer-e", (e, "s-e"), (e, "s-e"), paid_at=ago(1))
    assert eng.last_paid is not None
    await eng.deliver(eng.last_paid)
    _, old_line = await eng.pay_order("buyer-e", (e, "s-e"), paid_at=ago(30))
    for line, stars in zip([*e_lines, *old_line], (4, 2, 3), strict=True):
        posted = await eng.client.post("/reviews", json={"line_id": line, "rating": stars}, headers=eng.user("buyer-e"))
        assert posted.status_code == 201, posted.text
    # g: one purchase today, one 2-star review => 6 + 2 + 2.0 = 10.0: ties with a and b, but its
    #    average rating (2.0) beats theirs (none: 0), so it ranks above both
    _, [g_line] = await eng.pay_order("buyer-g", (g, "s-g"), paid_at=ago(0))
    assert (await eng.client.post("/reviews", json={"line_id": g_line, "rating": 2},
                                  headers=eng.user("buyer-g"))).status_code == 201
    # d1..d11: 1..11 views => 0.25 .. 2.75
    ds = []
    for i in range(1, 12):
        d = await eng.publish_product(f"dddddddd-0000-0000-0000-{i:012d}", at=ago(90))
        ds.append(d)
        for visitor in range(i):
            await record(eng, VIEW, d, f"x{visitor}", ago(0))

    assert await eng.refresh_trending(now) == 15  # a, b, e, g and the eleven d's: c stays at 0, unpublished
    [scores] = await published_scores(eng)
    assert (scores[a], scores[b], scores[e], scores[g]) == (10.0, 10.0, 21.0, 10.0)
    assert c not in scores
    assert [scores[d] for d in ds] == [0.25 * i for i in range(1, 12)]

    top = (await eng.client.get("/trending", params={"limit": 20})).json()
    assert top["window_days"] == 30
    order = [item["product_id"] for item in top["items"]]
    assert order == [e, g, b, a, *reversed(ds)]  # ties at 10.0: average rating, then newest first
    badges = [item["product_id"] for item in top["items"] if item["badge"]]
    assert badges == order[:12]  # the top 12 with a score above 0: d3, d2, d1 have none
    assert not {ds[0], ds[1], ds[2]} & set(badges)

    # Nothing changed: nothing is published again.
    assert await eng.refresh_trending(now) == 0
    assert len(await published_scores(eng)) == 1

    # Why is e trending: its seller sees each part and the daily trend; others see nothing.
    why = await eng.client.get(f"/products/{e}/trending", headers=eng.user("s-e", "seller"))
    assert why.status_code == 200, why.text
    body = why.json()
    assert (body["score"], body["published_score"], body["badge"]) == (21.0, 21.0, True)
    assert {p["signal"]: (p["count"], p["contribution"]) for p in body["parts"]} == {
        "purchases": (2, 12.0), "add_to_cart": (0, 0.0), "clicks": (0, 0.0), "reviews": (3, 6.0), "views": (0, 0.0),
        "avg_rating": (3.0, 3.0)}
    assert [(d["day"], d["purchases"], d["reviews"], d["contribution"]) for d in body["days"]] == [
        (str(ago(1).date()), 2, 0, 12.0), (str(ago(0).date()), 0, 3, 6.0)]  # the day 30 days ago is outside
    assert body["window_first_day"] == str(ago(29).date())
    assert (await eng.client.get(f"/products/{e}/trending", headers=eng.user("s-g", "seller"))).status_code == 404
    assert (await eng.client.get(f"/products/{e}/trending", headers=eng.owner())).status_code == 200
    assert (await eng.client.get(f"/products/{e}/trending")).status_code == 401


async def test_c7_a_new_day_drops_the_day_that_left_the_window_and_publishes_only_changes(eng: Engagement) -> None:
    a = await eng.publish_product(at=on(1, 2))
    b = await eng.publish_product(at=on(1, 2))
    await record(eng, VIEW, a, "v1", on(2))  # the window's first day on the 31st, gone on April 1st
    await record(eng, VIEW, a, "v2", on(31))
    await record(eng, VIEW, b, "v1", on(31))
    await eng.refresh_trending(TODAY)
    assert await published_scores(eng) == [{a: 0.5, b: 0.25}]

    await eng.refresh_trending(TODAY + dt.timedelta(days=1))
    assert (await published_scores(eng))[1:] == [{a: 0.25}]  # b did not change: not published

    # Thirty days on, everything has left the window: a and b drop to 0, published as such.
    await eng.refresh_trending(TODAY + dt.timedelta(days=31))
    assert (await published_scores(eng))[2:] == [{a: 0.0, b: 0.0}]
    assert (await eng.client.get("/trending")).json()["items"] == []


async def test_c7_an_unlisted_product_scores_0_until_listed_again(eng: Engagement) -> None:
    a = await eng.publish_product(at=on(1, 2))
    await record(eng, CART, a, "v1", on(31))
    await eng.refresh_trending(TODAY)
    await eng.unlist_product(a, at=on(31, minute=30))
    assert await eng.count(TrendingDirty) == 1
    await eng.refresh_trending(TODAY)
    await eng.publish_product(a, at=on(31, minute=40))
    await eng.refresh_trending(TODAY)
    assert await published_scores(eng) == [{a: 3.0}, {a: 0.0}, {a: 3.0}]


async def test_trending_refresh_loop_publishes_within_the_interval(
    database_url: str, nats_url: str, identity_keys: tuple[str, str]
) -> None:
    """The background loop (not the test) picks up new engagement and publishes it."""
    import asyncio

    from support import running_engagement

    async with running_engagement(database_url, nats_url, identity_keys,
                                  trending_interval_seconds=0.2, ingest_flush_seconds=0.05) as eng:
        p = await eng.publish_product()
        assert (await eng.ingest(("ADD_TO_CART", p, "v1"))).status_code == 202
        for _ in range(400):  # up to 20 s on a loaded machine; normally well under a second
            if await published_scores(eng):
                break
            await asyncio.sleep(0.05)
        assert await published_scores(eng) == [{p: 3.0}]
