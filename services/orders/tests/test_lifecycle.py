"""The lifecycle (O3), timeline (O4), the free-order path, and the payments facts: paid exactly once,
order.paid once, payouts/refunds/disputes into the status and the timeline (P5, P7, P8)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from support import Orders

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import (
    LineDebit,
    PaymentCheckoutCompletedV1,
    PaymentDisputeUpdatedV1,
    PaymentRefundedV1,
    PayoutSkippedV1,
    PayoutTransferCreatedV1,
    ShippingDetails,
)
from homecraft_shared.messaging.consumer import apply_event
from homecraft_shared.messaging.contracts import CONTRACTS, EventData
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.outgoing_mail import OutgoingMail
from orders.handlers import handlers
from orders.models import Order, OrderEvent


def envelope(data: EventData, subject_id: str) -> EventEnvelope:
    contract = CONTRACTS.for_model(type(data))
    return EventEnvelope(id=uuid.uuid4(), type=contract.type, version=contract.version, source=contract.producer,
                         occurred_at=utcnow(), correlation_id="test", subject_id=subject_id,
                         data=data.model_dump(mode="json"))


async def deliver(orders: Orders, event: EventEnvelope) -> bool:
    async with orders.runtime.sessionmaker() as session:
        applied = await apply_event(session, handlers, event)
        await session.commit()
    return applied


def completed(order: dict[str, Any], *, pi: str = "pi_1", charge: str | None = "ch_1",
              amount: int | None = None) -> PaymentCheckoutCompletedV1:
    return PaymentCheckoutCompletedV1(
        order_id=order["id"], checkout_session_id="cs_1", payment_intent_id=pi, charge_id=charge,
        amount_total_cents=order["total_cents"] if amount is None else amount, currency="usd",
        customer_email=None, shipping=ShippingDetails(name="Ada", line1="1 Main St", city="Portland", country="US"),
        stripe_event_id=f"evt_{uuid.uuid4().hex[:8]}", completed_at=utcnow())


async def owner_view(orders: Orders, order_id: str) -> dict[str, Any]:
    response = await orders.client.get(f"/orders/{order_id}", headers=orders.keys.user("boss", "owner"))
    assert response.status_code == 200
    return response.json()


async def test_checkout_completed_twice_pays_once_and_publishes_order_paid_once(orders: Orders) -> None:
    model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
    order = (await orders.place([(model["id"], 2), (file["id"], 1)], guest_email="guest@example.com")).json()
    first = completed(order)
    assert await deliver(orders, envelope(first, order["id"]))
    paid = await owner_view(orders, order["id"])
    assert paid["status"] == "paid" and paid["payment_method"] == "stripe"
    paid_at = paid["paid_at"]
    # The same fact again (a new event id: payments saw the Stripe event twice), then a different PI.
    assert await deliver(orders, envelope(first, order["id"]))
    assert await deliver(orders, envelope(completed(order, pi="pi_2", charge="ch_2"), order["id"]))
    again = await owner_view(orders, order["id"])
    assert again["status"] == "paid" and again["paid_at"] == paid_at  # O3: paid_at set once
    published = await orders.outbox("order.paid.v1")
    assert len(published) == 1
    data = published[0]["data"]
    assert data["payment_intent_id"] == "pi_1" and data["charge_id"] == "ch_1"  # never overwritten
    assert data["guest_email"] == "guest@example.com" and data["buyer_id"] is None
    assert data["marketplace_percent"] == "10.00" and data["kind"] == "mixed"
    assert {line["line_id"] for line in data["lines"]} == {line["id"] for line in order["lines"]}
    assert sum(line["fee_cents"] + line["net_cents"] for line in data["lines"]) == data["subtotal_cents"]
    assert data["shipping"]["city"] == "Portland"
    types = [entry["type"] for entry in again["timeline"]]
    assert types.count("paid") == 1 and types[-1] == "warning"  # the second PI is an operator warning
    assert "pi_2" in again["timeline"][-1]["message"]
    assert await orders.count(OutgoingMail) == 1  # O7: one guest email, queued with the payment


async def test_a_redelivered_event_changes_nothing(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-r")).json()
    event = envelope(completed(order), order["id"])
    assert await deliver(orders, event)
    assert not await deliver(orders, event)  # the inbox already has it
    assert len(await orders.outbox("order.paid.v1")) == 1
    assert await orders.count(OutgoingMail) == 0  # a registered buyer gets no guest email


async def test_cancel_then_illegal_transitions_are_409(orders: Orders) -> None:
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-c")).json()
    me = orders.keys.user("buyer-c")
    canceled = await orders.client.post(f"/orders/{order['id']}/cancel", headers=me)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert len(await orders.outbox("order.canceled.v1")) == 1
    for path in ("cancel", "checkout"):
        response = await orders.client.post(f"/orders/{order['id']}/{path}", headers=me)
        assert response.status_code == 409, response.text
        assert "canceled" in response.json()["detail"]
    # A payment arriving for a canceled order does not resurrect it: a warning for the operator.
    assert await deliver(orders, envelope(completed(order), order["id"]))
    view = await owner_view(orders, order["id"])
    assert view["status"] == "canceled" and view["timeline"][-1]["type"] == "warning"
    assert await orders.outbox("order.paid.v1") == []


async def test_checkout_of_a_paid_order_is_refused(orders: Orders) -> None:
    """O5: only a pending order goes to payment; refusing writes nothing."""
    model = orders.catalog.pick(kind="MODEL")
    order = (await orders.place([(model["id"], 1)], user="buyer-p")).json()
    response = await orders.client.post(f"/orders/{order['id']}/checkout", headers=orders.keys.user("buyer-p"))
    assert response.status_code == 200 and response.json()["payment_required"] is True
    await deliver(orders, envelope(completed(order), order["id"]))
    before = (await orders.count(OrderEvent), await orders.count(OutboxEvent), await orders.count(OutgoingMail))
    response = await orders.client.post(f"/orders/{order['id']}/checkout", headers=orders.keys.user("buyer-p"))
    assert response.status_code == 409 and "paid" in response.json()["detail"]
    assert (await orders.count(OrderEvent), await orders.count(OutboxEvent), await orders.count(OutgoingMail)) == before


async def test_checkout_of_an_empty_order_is_refused(orders: Orders) -> None:
    """O5: an order with no lines has nothing to pay for (placing never makes one: written here directly,
    as a damaged or migrated row would be)."""
    async with orders.runtime.sessionmaker() as session, session.begin():
        now = utcnow()
        session.add(Order(id=str(uuid.uuid4()), buyer_id="buyer-e", placement_key="empty-order", status="pending",
                          kind="physical", currency="usd", subtotal_cents=0, tax_cents=0, shipping_cents=0,
                          total_cents=0, marketplace_percent=10, refunded_cents=0, created_at=now, updated_at=now))
    async with orders.runtime.sessionmaker() as session:
        order_id = await session.scalar(select(Order.id).where(Order.placement_key == "empty-order"))
    response = await orders.client.post(f"/orders/{order_id}/checkout", headers=orders.keys.user("buyer-e"))
    assert response.status_code == 409, response.text
    assert "no lines" in response.json()["detail"]
    assert await orders.count(OrderEvent) == await orders.count(OutboxEvent) == await orders.count(OutgoingMail) == 0


async def test_a_free_order_is_paid_at_once_without_stripe(orders: Orders) -> None:
    free = orders.catalog.pick(kind="FILE", free=True)
    order = (await orders.place([(free["id"], 1)], guest_email="free@example.com")).json()
    assert order["total_cents"] == 0
    response = await orders.client.post(f"/orders/{order['id']}/checkout", params={"t": order["access_token"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["payment_required"] is False and body["order"]["status"] == "paid"
    assert body["order"]["payment_method"] == "free"
    published = await orders.outbox("order.paid.v1")
    assert len(published) == 1 and published[0]["data"]["payment_method"] == "free"
    assert published[0]["data"]["payment_intent_id"] is None
    assert await orders.count(OutgoingMail) == 1


async def test_payout_refund_and_dispute_facts(orders: Orders) -> None:
    model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
    order = (await orders.place([(model["id"], 1), (file["id"], 1)], user="buyer-f")).json()
    lines = {line["product_id"]: line for line in order["lines"]}
    await deliver(orders, envelope(completed(order), order["id"]))
    now = utcnow()
    transfer = PayoutTransferCreatedV1(order_id=order["id"], seller_id=model["seller_id"], currency="usd",
                                       seller_net_cents=lines[model["id"]]["net_cents"], balance_before_cents=500,
                                       transfer_id="tr_1", amount_cents=lines[model["id"]]["net_cents"],
                                       source_charge_id="ch_1", created_at=now)
    await deliver(orders, envelope(transfer, order["id"]))
    await deliver(orders, envelope(transfer, order["id"]))  # the same fact twice: one timeline entry
    view = await owner_view(orders, order["id"])
    assert [e["type"] for e in view["timeline"]].count("transfer_created") == 1
    # A partial refund naming the MODEL line: a warning, the line refunded, the order still paid (P7).
    refund = PaymentRefundedV1(order_id=order["id"], refund_id="re_1", payment_intent_id="pi_1", status="succeeded",
                               amount_cents=lines[model["id"]]["gross_cents"], currency="usd",
                               line_ids=[lines[model["id"]]["id"]],
                               debits=[LineDebit(line_id=lines[model["id"]]["id"], seller_id=model["seller_id"],
                                                 debit_cents=lines[model["id"]]["net_cents"])],
                               refunded_total_cents=lines[model["id"]]["gross_cents"],
                               charged_total_cents=order["total_cents"], fully_refunded=False, observed_at=now)
    await deliver(orders, envelope(refund, order["id"]))
    await deliver(orders, envelope(refund, order["id"]))
    view = await owner_view(orders, order["id"])
    assert view["status"] == "paid"
    assert {line["product_id"]: line["refunded"] for line in view["lines"]} == {model["id"]: True, file["id"]: False}
    assert "Partial refund re_1" in view["timeline"][-1]["message"]
    payouts = (await orders.client.get(f"/ops/orders/{order['id']}/payouts", headers=orders.keys.user("boss", "owner"))).json()
    by_seller = {s["seller_id"]: s for s in payouts["sellers"]}
    assert by_seller[model["seller_id"]]["payout_cents"] == lines[model["id"]]["net_cents"]
    assert by_seller[model["seller_id"]]["debits_since_cents"] == lines[model["id"]]["net_cents"]  # counted once
    assert by_seller[model["seller_id"]]["connect_ready"] is True
    # The file seller was skipped (not ready): flagged (A1) and explained (A2).
    skipped = PayoutSkippedV1(order_id=order["id"], seller_id=file["seller_id"], currency="usd",
                              seller_net_cents=lines[file["id"]]["net_cents"], balance_before_cents=0,
                              reason="seller_not_ready", message="Transfer skipped (not ready)", skipped_at=now)
    await deliver(orders, envelope(skipped, order["id"]))
    payouts = (await orders.client.get(f"/ops/orders/{order['id']}/payouts", headers=orders.keys.user("boss", "owner"))).json()
    file_seller = {s["seller_id"]: s for s in payouts["sellers"]}[file["seller_id"]]
    assert file_seller["connect_ready"] is False and "seller_not_ready" in file_seller["no_payout_reason"]
    # The dispute is lost: a chargeback, the order refunded, order.refunded published (P8).
    dispute = PaymentDisputeUpdatedV1(order_id=order["id"], dispute_id="dp_1", charge_id="ch_1", phase="closed",
                                      status="lost", reason="fraudulent", amount_cents=order["total_cents"],
                                      currency="usd", chargeback_debits=[], observed_at=now + dt.timedelta(days=30))
    await deliver(orders, envelope(dispute, order["id"]))
    view = await owner_view(orders, order["id"])
    assert view["status"] == "refunded" and all(line["refunded"] for line in view["lines"])
    refunded = await orders.outbox("order.refunded.v1")
    assert len(refunded) == 1 and refunded[0]["data"]["cause"] == "chargeback"
