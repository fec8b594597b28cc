"""Seller analytics (roadmap phase 5): per listing and per day — views, clicks, add-to-cart,
purchases, revenue, conversion — for a chosen period; a seller sees only their own."""

from __future__ import annotations

import datetime as dt

from support import Engagement

from engagement.ingestion import service as ingestion
from engagement.ingestion.domain import Incoming
from engagement.models import EventKind

SESSION = dt.timedelta(days=14)
DAY1 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)


async def views(eng: Engagement, product: str, count: int, at: dt.datetime, kind: EventKind = EventKind.VIEW) -> None:
    async with eng.session() as session:
        await ingestion.record_batch(session, [Incoming(kind, product, f"v{i}", at) for i in range(count)],
                                     session_life=SESSION)


async def test_per_listing_per_day_figures_for_a_period(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    q = await eng.publish_product(seller_id="s1")
    other = await eng.publish_product(seller_id="s2")
    await views(eng, p, 8, DAY1)
    await views(eng, p, 3, DAY1, EventKind.CLICK)
    await views(eng, p, 2, DAY1, EventKind.ADD_TO_CART)
    await views(eng, p, 4, DAY2)
    await views(eng, q, 5, DAY2)
    await views(eng, other, 50, DAY2)
    await eng.pay_order("b1", (p, "s1"), (p, "s1"), paid_at=DAY1, gross_cents=1250)
    await eng.pay_order("b2", (q, "s1"), paid_at=DAY2 + dt.timedelta(days=5), gross_cents=999)  # outside the period

    response = await eng.client.get("/sellers/me/analytics", params={"from": "2026-05-04", "to": "2026-05-05"},
                                    headers=eng.user("s1", "seller"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["seller_id"], body["first_day"], body["last_day"]) == ("s1", "2026-05-04", "2026-05-05")
    assert body["totals"] == {"views": 17, "clicks": 3, "add_to_cart": 2, "purchases": 2, "revenue_cents": 2500,
                              "conversion": round(2 / 17, 4)}
    [first, second] = body["listings"]
    assert first["product_id"] == p and second["product_id"] == q
    assert [(d["day"], d["views"], d["clicks"], d["add_to_cart"], d["purchases"], d["revenue_cents"], d["conversion"])
            for d in first["days"]] == [("2026-05-04", 8, 3, 2, 2, 2500, 0.25), ("2026-05-05", 4, 0, 0, 0, 0, 0.0)]
    assert second["totals"]["purchases"] == 0 and second["totals"]["conversion"] == 0.0
    assert other not in {item["product_id"] for item in body["listings"]}

    # Owners may look at any seller; a seller may not.
    as_owner = await eng.client.get("/sellers/me/analytics", params={"from": "2026-05-04", "to": "2026-05-05",
                                                                     "seller_id": "s2"}, headers=eng.owner())
    assert as_owner.json()["totals"]["views"] == 50
    refused = await eng.client.get("/sellers/me/analytics", params={"seller_id": "s2"}, headers=eng.user("s1", "seller"))
    assert refused.status_code == 403


async def test_bad_periods_are_refused(eng: Engagement) -> None:
    headers = eng.user("s1", "seller")
    for params in ({"from": "2026-05-05", "to": "2026-05-04"}, {"from": "2025-01-01", "to": "2026-05-04"},
                   {"from": "yesterday"}):
        response = await eng.client.get("/sellers/me/analytics", params=params, headers=headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await eng.client.get("/sellers/me/analytics")).status_code == 401
