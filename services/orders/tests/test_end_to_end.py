"""End to end over a real nats-server: payments' facts arrive duplicated and out of order (a payout
fact before the checkout it follows, the checkout twice); the order is paid once, ``order.paid`` is
in the orders stream once, and the guest gets one email through the real SMTP server (O3, O7)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats
from sqlalchemy import select
from support import Mailbox, Orders
from test_lifecycle import completed, envelope

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PayoutTransferCreatedV1
from homecraft_shared.messaging.envelope import EventEnvelope
from homecraft_shared.messaging.jetstream import ensure_stream, stream_name
from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.outgoing_mail import OutgoingMail


async def publish(js: nats.js.JetStreamContext, event: EventEnvelope, *, msg_id: str | None = None) -> None:
    await js.publish(event.subject, event.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id or str(event.id)})


async def until(predicate, within: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


async def test_duplicated_out_of_order_facts_pay_once_publish_once_mail_once(orders: Orders, mailbox: Mailbox) -> None:
    model, file = orders.catalog.pick(kind="MODEL"), orders.catalog.pick(kind="FILE")
    order = (await orders.place([(model["id"], 1), (file["id"], 1)], guest_email="e2e@example.com")).json()
    model_line = next(line for line in order["lines"] if line["product_id"] == model["id"])
    connection = await nats.connect(orders.runtime.settings.nats_url)
    try:
        js = connection.jetstream()
        await ensure_stream(js, "payments")
        transfer = envelope(PayoutTransferCreatedV1(
            order_id=order["id"], seller_id=model["seller_id"], currency="usd", seller_net_cents=model_line["net_cents"],
            balance_before_cents=model_line["net_cents"], transfer_id="tr_e2e", amount_cents=model_line["net_cents"],
            source_charge_id="ch_1", created_at=utcnow()), order["id"])
        checkout = envelope(completed(order), order["id"])
        # Out of order: the payout fact first; then the checkout, redelivered (a new Nats-Msg-Id, the same
        # event: beyond JetStream's duplicate window), then the same Stripe fact as a new event.
        await publish(js, transfer)
        await publish(js, checkout)
        await publish(js, checkout, msg_id=str(uuid.uuid4()))
        await publish(js, envelope(completed(order), order["id"]))

        async def settled() -> bool:
            view = (await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("boss", "owner"))).json()
            kinds = [entry["type"] for entry in view["timeline"]]
            return view["status"] == "paid" and "transfer_created" in kinds and await orders.count(OutgoingMail) == 1

        await until(settled)
        await asyncio.sleep(1.0)  # let any stray redelivery land before counting
        view = (await orders.client.get(f"/orders/{order['id']}", headers=orders.keys.user("boss", "owner"))).json()
        assert [entry["type"] for entry in view["timeline"]].count("paid") == 1

        # order.paid reached the orders stream exactly once.
        async def published() -> bool:
            async with orders.runtime.sessionmaker() as session:
                rows = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == "order.paid.v1")))
            return len(rows) == 1 and rows[0].published_at is not None

        await until(published)
        subscription = await js.pull_subscribe("order.paid.v1", durable=None, stream=stream_name("orders"))
        messages = await subscription.fetch(10, timeout=2)
        paid = [json.loads(m.data) for m in messages if json.loads(m.data)["subject_id"] == order["id"]]
        assert len(paid) == 1 and paid[0]["data"]["payment_intent_id"] == "pi_1"
        (message,) = await mailbox.wait_for(1)
        assert message["To"] == "e2e@example.com"
        await asyncio.sleep(1.0)
        assert len(mailbox.messages) == 1
    finally:
        await connection.close()

