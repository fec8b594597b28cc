"""Refund execution for the refunds service (R3, R4; decisions 0201, 0305): the refunds service asks as
itself, with a token signed by its own key that payments trusts, and no user behind the call (the
operator's bulk refund, an escalation). Idempotent per refund request; a forged service token, another
service and a user token that merely claims the role "service" are refused, and nothing reaches Stripe."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from standin_support import Stand, order_paid, running_stand
from test_payouts_flow import balances, payouts_of

from homecraft_shared.identity import ServiceSigner, generate_keypair
from homecraft_shared.testing import bearer
from payments.models import StripeRefund

REFUNDS_KEYS = generate_keypair()
ORDERS_KEYS = generate_keypair()


@pytest.fixture
async def stand(database_url: str, nats_url: str, identity_keys: tuple[str, str]) -> AsyncIterator[Stand]:
    trusted = {"refunds": REFUNDS_KEYS[1], "orders": ORDERS_KEYS[1]}
    async with running_stand(database_url, nats_url, identity_keys, trusted_service_keys=trusted) as running:
        yield running


async def stripe_refunds(stand: Stand, pi: str) -> list[str]:
    listed = await stand.stripe.v1.refunds.list_async({"payment_intent": pi, "limit": 100})
    return [refund.id for refund in listed.data]


async def refund_rows(stand: Stand) -> int:
    async with stand.payments.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(StripeRefund)) or 0)


async def test_r3_the_refunds_service_executes_as_itself_once_per_request(stand: Stand) -> None:
    await stand.ready_seller("ada")
    await stand.ready_seller("bob")
    order = order_paid("x1", [("ada", 2000), ("bob", 3000)], percent="12.5")
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "x1", 2)
    body = {"refund_request_id": "rr-svc-1", "order_id": "x1", "line_ids": ["x1-L1"], "amount_cents": 3000}

    # refused, and nothing reaches Stripe: a token signed by a key payments does not trust for "refunds",
    forged = ServiceSigner("refunds", generate_keypair()[0]).authorization()
    assert (await stand.payments.client.post("/refunds", json=body, headers=forged)).status_code == 401
    # another (trusted) service,
    orders = ServiceSigner("orders", ORDERS_KEYS[0]).authorization()
    other = await stand.payments.client.post("/refunds", json=body, headers=orders)
    assert other.status_code == 403 and "only the refunds service" in other.json()["detail"]
    # a user token (the gateway's key) that claims the role "service" -- a role is not an identity,
    claimed = await stand.payments.client.post("/refunds", json=body,
                                               headers=bearer(stand.private_key, "refunds", "service"))
    assert claimed.status_code == 403
    # and no token at all
    assert (await stand.payments.client.post("/refunds", json=body)).status_code == 401
    assert await stripe_refunds(stand, pi) == [] and await refund_rows(stand) == 0

    # the refunds service itself, with no user behind the call: the refund is made once (R3) ...
    refunds = ServiceSigner("refunds", REFUNDS_KEYS[0])
    first = await stand.payments.client.post("/refunds", json=body, headers=refunds.authorization())
    assert first.status_code == 201, first.text
    assert first.json()["refund_request_id"] == "rr-svc-1" and first.json()["line_ids"] == ["x1-L1"]
    # ... and asking again (a retry, a second bulk run) with a fresh token gives the same refund, 200
    again = await stand.payments.client.post("/refunds", json=body, headers=refunds.authorization())
    assert again.status_code == 200 and again.json()["refund_id"] == first.json()["refund_id"]
    assert await stripe_refunds(stand, pi) == [first.json()["refund_id"]]
    refund = await stand.stripe.v1.refunds.retrieve_async(first.json()["refund_id"])
    assert refund.amount == 3000 and refund.metadata["refund_request_id"] == "rr-svc-1"
    # only bob's line is debited (P7): his net 2625 and no more
    assert await balances(stand) == {"ada": 0, "bob": -2625}

    # the same request id for another amount is a conflict, not a second refund
    changed = await stand.payments.client.post("/refunds", json={**body, "amount_cents": 10},
                                               headers=refunds.authorization())
    assert changed.status_code == 409 and "refunded once" in changed.json()["detail"]
    assert await stripe_refunds(stand, pi) == [first.json()["refund_id"]]


async def test_r4_a_seller_cannot_learn_of_another_sellers_executed_request(stand: Stand) -> None:
    await stand.ready_seller("ada")
    await stand.ready_seller("bob")
    order = order_paid("x2", [("ada", 2000), ("bob", 3000)])
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "x2", 2)
    body = {"refund_request_id": "rr-svc-2", "order_id": "x2", "line_ids": ["x2-L1"], "amount_cents": 1000}
    made = await stand.payments.client.post("/refunds", json=body,
                                            headers=ServiceSigner("refunds", REFUNDS_KEYS[0]).authorization())
    assert made.status_code == 201, made.text
    # ada repeats bob's request id: refused before anything about the earlier execution is told
    peek = await stand.payments.client.post("/refunds", json=body, headers=bearer(stand.private_key, "ada", "seller"))
    assert peek.status_code == 403 and made.json()["refund_id"] not in peek.text
