"""Projections of other services' events: payout readiness (P2, for C4/C10), product and seller rating
summaries, trending scores. Each is idempotent (the same event twice, or a copy under a new id,
leaves the same state) and ignores facts older than the one stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import nats
import pytest
from support import CatalogHarness

from catalog.handlers import handlers
from catalog.models import Product, SellerPayoutStatus, SellerRating
from homecraft_shared.events.engagement import ProductScore, ReviewPostedV1, SellerReviewPostedV1, TrendingScoresUpdatedV1
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.messaging.contracts import CONTRACTS

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


async def readiness(catalog: CatalogHarness, seller_id: str) -> tuple[bool, dt.datetime] | None:
    async with catalog.session() as session:
        row = await session.get(SellerPayoutStatus, seller_id)
        return (row.ready, row.as_of) if row else None


async def rating(catalog: CatalogHarness, product_id: str) -> tuple[int, int, dt.datetime | None]:
    product = await catalog.product(product_id)
    return product.rating_count, product.rating_sum, product.rating_as_of


async def scores(catalog: CatalogHarness) -> dict[str, float]:
    async with catalog.session() as session:
        rows = await session.execute(Product.__table__.select())
        return {str(row.id): row.trending_score for row in rows}


@pytest.fixture
def payout_ready() -> tuple[str, ...]:
    return ()  # these tests own the readiness projection from an empty table


def test_handlers_are_registered_with_the_fields_they_read() -> None:
    registered = {(h.contract.type, h.reads) for h in handlers.handlers()}
    assert registered == {
        ("seller.payout_readiness_changed", ("seller_id", "ready", "changed_at")),
        ("review.posted", ("product_id", "rating_count", "rating_sum", "posted_at")),
        ("seller_review.posted", ("seller_id", "rating_count", "rating_sum", "posted_at")),
        ("trending.scores_updated", ("computed_at", "complete", "scores")),
    }
    for handler in handlers.handlers():  # every field read exists in the producer's contract
        assert set(handler.reads) <= set(CONTRACTS.get(handler.contract.type, 1).data_model.model_fields)


async def test_payout_readiness_is_idempotent_and_ignores_older_events(catalog: CatalogHarness) -> None:
    event = SellerPayoutReadinessChangedV1(seller_id="s1", ready=True, changed_at=at(10))
    event_id = uuid.uuid4()
    assert await catalog.deliver(event, event_id=event_id) is True
    assert await catalog.deliver(event, event_id=event_id) is False  # the inbox drops the redelivery
    await catalog.deliver(event)  # the same fact under another id: same state
    assert await readiness(catalog, "s1") == (True, at(10))
    await catalog.deliver(SellerPayoutReadinessChangedV1(seller_id="s1", ready=False, changed_at=at(5)))  # late, older
    assert await readiness(catalog, "s1") == (True, at(10))
    await catalog.deliver(SellerPayoutReadinessChangedV1(seller_id="s1", ready=False, changed_at=at(20)))
    assert await readiness(catalog, "s1") == (False, at(20))
    assert await catalog.count(SellerPayoutStatus) == 1


async def test_c4_readiness_projection_gates_listing_creation(catalog: CatalogHarness) -> None:
    category = await catalog.category("FILE")
    body = {"kind": "FILE", "title": "x", "category_id": category["id"], "price_cents": 100}
    assert (await catalog.client.post("/listings", json=body, headers=catalog.seller("s1"))).status_code == 403
    await catalog.deliver(SellerPayoutReadinessChangedV1(seller_id="s1", ready=True, changed_at=at(1)))
    assert (await catalog.client.post("/listings", json=body, headers=catalog.seller("s1"))).status_code == 201
    await catalog.deliver(SellerPayoutReadinessChangedV1(seller_id="s1", ready=False, changed_at=at(2)))
    assert (await catalog.client.post("/listings", json=body, headers=catalog.seller("s1"))).status_code == 403


async def test_product_rating_summary_is_idempotent_and_ignores_older_events(catalog: CatalogHarness) -> None:
    await catalog.make_ready("seller-1")
    product_id = (await catalog.draft("FILE"))["id"]

    def review(count: int, total: int, minute: int) -> ReviewPostedV1:
        return ReviewPostedV1(review_id=str(uuid.uuid4()), product_id=product_id, rating=5,
                              rating_count=count, rating_sum=total, posted_at=at(minute))

    second = review(2, 9, 20)
    await catalog.deliver(second)
    await catalog.deliver(second)
    assert await rating(catalog, product_id) == (2, 9, at(20))
    await catalog.deliver(review(1, 4, 10))  # arrives late: older summary ignored
    assert await rating(catalog, product_id) == (2, 9, at(20))
    await catalog.deliver(review(3, 12, 30))
    assert await rating(catalog, product_id) == (3, 12, at(30))
    listing = (await catalog.client.get(f"/listings/{product_id}", headers=catalog.seller())).json()
    assert (listing["rating_count"], listing["rating_avg"]) == (3, 4.0)
    # Reviews of products the catalog does not know (or malformed ids) change nothing and do not fail.
    await catalog.deliver(ReviewPostedV1(review_id="r", product_id=str(uuid.uuid4()), rating=1, rating_count=1, rating_sum=1,
            posted_at=at(40)))
    await catalog.deliver(ReviewPostedV1(review_id="r", product_id="not-a-uuid", rating=1, rating_count=1, rating_sum=1, posted_at=at(40)))
    assert await rating(catalog, product_id) == (3, 12, at(30))


async def test_seller_rating_is_idempotent_and_ignores_older_events(catalog: CatalogHarness) -> None:
    def review(count: int, total: int, minute: int) -> SellerReviewPostedV1:
        return SellerReviewPostedV1(review_id=str(uuid.uuid4()), seller_id="s1", rating=4,
                                    rating_count=count, rating_sum=total, posted_at=at(minute))

    await catalog.deliver(review(5, 20, 50))
    await catalog.deliver(review(5, 20, 50))
    await catalog.deliver(review(4, 15, 40))
    async with catalog.session() as session:
        row = await session.get(SellerRating, "s1")
        assert row is not None and (row.rating_count, row.rating_sum, row.as_of) == (5, 20, at(50))
    assert await catalog.count(SellerRating) == 1


async def test_trending_scores_complete_set_zeroes_the_rest_and_older_sets_are_ignored(catalog: CatalogHarness) -> None:
    await catalog.make_ready("seller-1")
    a, b, c = [(await catalog.draft("FILE", title=t))["id"] for t in ("A", "B", "C")]

    def scores_event(minute: int, complete: bool, **values: float) -> TrendingScoresUpdatedV1:
        ids = {"a": a, "b": b, "c": c}
        return TrendingScoresUpdatedV1(
            computed_at=at(minute), complete=complete,
            scores=[ProductScore(product_id=ids[k], score=v) for k, v in values.items()],
        )

    first = scores_event(10, True, a=5.0, b=2.5)
    await catalog.deliver(first)
    await catalog.deliver(first)
    assert await scores(catalog) == {a: 5.0, b: 2.5, c: 0.0}
    await catalog.deliver(scores_event(20, True, c=7.0))  # complete: a and b fall to 0
    assert await scores(catalog) == {a: 0.0, b: 0.0, c: 7.0}
    await catalog.deliver(scores_event(15, True, a=9.0, b=9.0, c=9.0))  # older set, late: ignored everywhere
    assert await scores(catalog) == {a: 0.0, b: 0.0, c: 7.0}
    await catalog.deliver(scores_event(30, False, b=1.5))  # partial: only b changes
    assert await scores(catalog) == {a: 0.0, b: 1.5, c: 7.0}
    await catalog.deliver(scores_event(25, True))  # complete but older than b's score: b kept, others zeroed
    assert await scores(catalog) == {a: 0.0, b: 1.5, c: 0.0}
    await catalog.deliver(TrendingScoresUpdatedV1(computed_at=at(40), complete=False,
                                            scores=[ProductScore(product_id="nope", score=3.0)]))
    assert await scores(catalog) == {a: 0.0, b: 1.5, c: 0.0}


async def test_readiness_event_arrives_through_jetstream(catalog: CatalogHarness, nats_url: str) -> None:
    """End to end: an event published on the payments stream reaches the catalog's durable consumer."""
    from homecraft_shared.messaging.envelope import EventEnvelope
    from homecraft_shared.messaging.jetstream import ensure_stream

    data = SellerPayoutReadinessChangedV1(seller_id="s-js", ready=True, changed_at=at(1))
    envelope = EventEnvelope(
        id=uuid.uuid4(), type="seller.payout_readiness_changed", version=1, source="payments", occurred_at=at(1),
        correlation_id="test", subject_id="s-js", data=data.model_dump(mode="json"),
    )
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await ensure_stream(js, "payments")
        for _ in range(2):  # published twice with the same id: JetStream drops the copy
            await js.publish(envelope.subject, envelope.model_dump_json().encode(), headers={"Nats-Msg-Id": str(envelope.id)})
    finally:
        await connection.close()
    for _ in range(100):
        if await readiness(catalog, "s-js") is not None:
            break
        await asyncio.sleep(0.05)
    assert await readiness(catalog, "s-js") == (True, at(1))
