"""V1 product reviews and V2 seller ratings: only by the buyer of a paid order (the order.paid
projection), one per line / per (buyer, seller, order), rating 1-5, title and body limits; the
summaries are published to catalog; the product page's data comes in one call (C9)."""

from __future__ import annotations

from typing import Any

from support import Engagement

from engagement.models import ProductDay, PurchasedLine, RatingSummary, Review, SellerReview, TrendingDirty
from homecraft_shared.db import utcnow

TABLES = (Review, SellerReview, RatingSummary)


async def review(eng: Engagement, user: str, line_id: str, rating: Any = 5, **extra: Any) -> Any:
    return await eng.client.post("/reviews", json={"line_id": line_id, "rating": rating, **extra}, headers=eng.user(user))


async def test_order_paid_is_projected_once_per_line_and_counts_purchases(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    q = await eng.publish_product(seller_id="s2")
    _order_id, _lines = await eng.pay_order("buyer-1", (p, "s1"), (q, "s2"))
    assert await eng.count(PurchasedLine) == 2
    # The same order again (a copy under another event id): nothing changes.
    assert eng.last_paid is not None
    assert await eng.deliver(eng.last_paid) is True  # a new event id: not caught by the inbox
    assert await eng.count(PurchasedLine) == 2
    async with eng.session() as session:
        day = await session.get(ProductDay, (p, utcnow().date()))
        assert (day.purchases, day.revenue_cents) == (1, 1500)  # not 2: each line counts once (C7)
    assert await eng.count(TrendingDirty) == 2


async def test_v1_the_buyer_reviews_a_paid_line_once_and_the_summary_is_published(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    _, [line] = await eng.pay_order("buyer-1", (p, "s1"))
    _, [line2] = await eng.pay_order("buyer-2", (p, "s1"))
    response = await review(eng, "buyer-1", line, 4, title="Lovely <b>print</b>", body="Fits & works.\nTwo lines.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["rating"], body["title"], body["body"], body["buyer_name"], body["refunded"]) == (
        4, "Lovely <b>print</b>", "Fits & works.\nTwo lines.", "name-buyer-1", False)  # stored as typed
    assert (await review(eng, "buyer-2", line2, 1)).status_code == 201
    events = await eng.published("review.posted")
    assert [(e["product_id"], e["rating"], e["rating_count"], e["rating_sum"]) for e in events] == [
        (p, 4, 1, 4), (p, 1, 2, 5)]

    page = (await eng.client.get(f"/products/{p}/reviews")).json()
    assert page["rating"] == {"count": 2, "sum": 5, "average": 2.5}
    assert page["seller_id"] == "s1" and page["seller_rating"] == {"count": 0, "sum": 0, "average": None}
    assert [r["rating"] for r in page["reviews"]] == [1, 4]  # newest first
    async with eng.session() as session:
        assert (await session.get(ProductDay, (p, utcnow().date()))).reviews == 2  # C7 counts reviews


async def test_v1_refused_reviews_write_nothing(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    _, [line] = await eng.pay_order("buyer-1", (p, "s1"))
    _, [guest_line] = await eng.pay_order(None, (p, "s1"))
    assert (await review(eng, "buyer-1", line, 5)).status_code == 201
    before = await eng.counts(*TABLES)
    cases = [
        (await review(eng, "buyer-1", line, 5), 409),  # a second review of the line
        (await review(eng, "buyer-2", line, 5), 404),  # someone else's purchase
        (await review(eng, "buyer-1", "no-such-line", 5), 404),  # no purchase at all
        (await review(eng, "buyer-1", guest_line, 5), 404),  # a guest order's line
        (await review(eng, "buyer-1", line, 0), 422),
        (await review(eng, "buyer-1", line, 6), 422),
        (await review(eng, "buyer-1", line, "5"), 422),
        (await review(eng, "buyer-1", line, 4.5), 422),
        (await review(eng, "buyer-1", line, 5, title="x" * 121), 422),
        (await review(eng, "buyer-1", line, 5, title="bad\x00title"), 422),
        (await review(eng, "buyer-1", line, 5, body="y" * 5001), 422),
        (await eng.client.post("/reviews", json={"line_id": line, "rating": 5}), 401),
    ]
    for response, expected in cases:
        assert response.status_code == expected, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await eng.counts(*TABLES) == before


async def test_v2_seller_rating_once_per_buyer_seller_and_order(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    q = await eng.publish_product(seller_id="s2")
    order_id, _ = await eng.pay_order("buyer-1", (p, "s1"))
    other_order, _ = await eng.pay_order("buyer-1", (p, "s1"))

    async def rate(user: str, order: str, seller: str, rating: Any = 5) -> Any:
        return await eng.client.post("/seller-reviews", json={"order_id": order, "seller_id": seller, "rating": rating},
                                     headers=eng.user(user))

    assert (await rate("buyer-1", order_id, "s1", 5)).status_code == 201
    assert (await rate("buyer-1", other_order, "s1", 2)).status_code == 201  # another order: another rating
    before = await eng.counts(*TABLES)
    assert (await rate("buyer-1", order_id, "s1", 4)).status_code == 409
    assert (await rate("buyer-2", order_id, "s1")).status_code == 404  # not the buyer
    assert (await rate("buyer-1", order_id, "s2")).status_code == 404  # s2 is not in that order
    assert (await rate("buyer-1", order_id, "s1", 0)).status_code == 422
    assert await eng.counts(*TABLES) == before
    events = await eng.published("seller_review.posted")
    assert [(e["seller_id"], e["rating_count"], e["rating_sum"]) for e in events] == [("s1", 1, 5), ("s1", 2, 7)]
    page = (await eng.client.get(f"/products/{p}/reviews")).json()
    assert page["seller_rating"] == {"count": 2, "sum": 7, "average": 3.5}
    assert (await eng.client.get(f"/products/{q}/reviews")).json()["seller_rating"]["count"] == 0


async def test_c9_last_five_reviews_and_reviewable_list(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    _, lines = await eng.pay_order("buyer-1", *[(p, "s1")] * 7)
    reviewable = (await eng.client.get("/me/reviewable", headers=eng.user("buyer-1"))).json()
    assert len(reviewable["lines"]) == 7 and len(reviewable["sellers"]) == 1
    for i, line in enumerate(lines[:6]):
        assert (await review(eng, "buyer-1", line, 1 + i % 5, title=f"r{i}")).status_code == 201
    page = (await eng.client.get(f"/products/{p}/reviews")).json()
    assert [r["title"] for r in page["reviews"]] == ["r5", "r4", "r3", "r2", "r1"]
    assert page["rating"]["count"] == 6
    reviewable = (await eng.client.get("/me/reviewable", headers=eng.user("buyer-1"))).json()
    assert [r["line_id"] for r in reviewable["lines"]] == [lines[6]]


async def test_a_review_of_a_refunded_line_is_marked_as_such(eng: Engagement) -> None:
    p = await eng.publish_product(seller_id="s1")
    order_id, [line] = await eng.pay_order("buyer-1", (p, "s1"))
    assert (await review(eng, "buyer-1", line, 2)).status_code == 201
    await eng.refund_order(order_id, "buyer-1", (line, p, "s1"))
    [shown] = (await eng.client.get(f"/products/{p}/reviews")).json()["reviews"]
    assert shown["refunded"] is True


async def test_a_succeeded_refund_of_one_line_marks_only_that_lines_review(eng: Engagement) -> None:
    from homecraft_shared.events.payments import PaymentRefundedV1

    p = await eng.publish_product(seller_id="s1")
    order_id, [first, second] = await eng.pay_order("buyer-1", (p, "s1"), (p, "s1"))
    for line in (first, second):
        assert (await review(eng, "buyer-1", line, 3)).status_code == 201

    def refund(status: str) -> PaymentRefundedV1:
        return PaymentRefundedV1(
            order_id=order_id, refund_id="re_1", payment_intent_id="pi_1", status=status, amount_cents=1500,
            currency="usd", line_ids=[first], refunded_total_cents=1500, charged_total_cents=3000,
            fully_refunded=False, observed_at=utcnow())

    await eng.deliver(refund("pending"))  # not refunded yet
    shown = {r["line_id"]: r["refunded"] for r in (await eng.client.get(f"/products/{p}/reviews")).json()["reviews"]}
    assert shown == {first: False, second: False}
    await eng.deliver(refund("succeeded"))
    shown = {r["line_id"]: r["refunded"] for r in (await eng.client.get(f"/products/{p}/reviews")).json()["reviews"]}
    assert shown == {first: True, second: False}
