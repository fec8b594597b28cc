"""P7 under concurrency (decision 0324): a consumer transaction of Stripe refund events locks the paid orders
they are about when it reads its stored events ahead (one statement per kind of key naming them), and its
handlers take those orders' facts from there instead of reading and locking each order again. The lock proof is
PostgreSQL only: SQLite has no row locks (it serializes writers), and there nothing is locked ahead."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from sqlalchemy import update
from standin_support import order_paid
from support import Payments, stripe_event

from homecraft_shared.db import utcnow
from payments.models import PaidOrder, StripeEvent
from payments.paid_orders.repository import OrderKeys, find_facts
from payments.webhooks import processing


def stored_refund(refund_id: str, **names: Any) -> StripeEvent:
    """A stored ``refund.created`` as the intake writes it (its consumer never runs it here)."""
    refund = {"id": refund_id, "object": "refund", "status": "succeeded", "amount": 100, "currency": "usd",
              "metadata": {"order_id": names["order_id"]} if "order_id" in names else {},
              "payment_intent": names.get("payment_intent")}
    payload = stripe_event("refund.created", refund)
    return StripeEvent(event_id=payload["id"], type="refund.created", endpoint="platform", account=None, livemode=False,
                       stripe_created=utcnow(), payload=json.dumps(payload), received_at=utcnow(), status="received",
                       outcome="")


async def locked_elsewhere(database_url: str, order_id: str) -> bool:
    """Whether another connection finds the order's row locked (it does not wait for it)."""
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        async with connection.transaction():
            await connection.execute("SELECT 1 FROM paid_orders WHERE order_id = $1 FOR UPDATE NOWAIT", order_id)
        return False
    except asyncpg.LockNotAvailableError:
        return True
    finally:
        await connection.close()


async def test_p7_a_transactions_refund_events_lock_their_orders_ahead_and_answer_from_that_statement(
        payments: Payments, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no row locks: it serializes writers")
    for order_id in ("ahead-1", "ahead-2", "ahead-3"):
        assert await payments.deliver(order_paid(order_id, [("ada", 1000)], payment_intent_id=f"pi_{order_id}"))
    by_order_id = stored_refund("re_ahead_1", order_id="ahead-1")
    by_payment = stored_refund("re_ahead_2", payment_intent="pi_ahead-2")  # no order id in its metadata
    async with payments.sessionmaker() as session:
        session.add_all([by_order_id, by_payment])
        await session.commit()

    async with payments.sessionmaker() as session:
        await processing.read_ahead(session, [by_order_id.event_id, by_payment.event_id])
        # both orders are locked by now, before any handler ran; the one no event names is not
        assert [await locked_elsewhere(database_url, o) for o in ("ahead-1", "ahead-2", "ahead-3")] == [True, True, False]
        # the handlers' lookups are answered from the statement that locked them: a change made since in this
        # transaction is not read back (nothing but refunded_cause changes once an order is projected)
        await session.execute(update(PaidOrder).where(PaidOrder.order_id.in_(["ahead-1", "ahead-2"]))
                              .values(currency="eur"))
        first = await find_facts(session, OrderKeys("ahead-1", None, None), lock=True)
        second = await find_facts(session, OrderKeys(None, "pi_ahead-2", None), lock=True)
        assert (first and first.order_id, first and first.currency) == ("ahead-1", "usd")
        assert (second and second.order_id, second and second.currency) == ("ahead-2", "usd")
        await session.commit()
        # the next transaction of the session reads the rows again
        again = await find_facts(session, OrderKeys("ahead-1", None, None), lock=True)
        assert again is not None and again.currency == "eur"
        await session.commit()
    assert [await locked_elsewhere(database_url, o) for o in ("ahead-1", "ahead-2")] == [False, False]


async def test_p7_refund_events_in_one_transaction_each_debit_their_own_order(payments: Payments) -> None:
    """The orders locked ahead are the right ones for each event, whichever key names them (both backends)."""
    for order_id in ("each-1", "each-2"):
        assert await payments.deliver(order_paid(order_id, [("ada", 1000), ("bob", 500)],
                                                 payment_intent_id=f"pi_{order_id}", charge_id=f"ch_{order_id}"))
    events = [stored_refund("re_each_1", order_id="each-1"), stored_refund("re_each_2", payment_intent="pi_each-2"),
              stored_refund("re_each_3", order_id="each-404", payment_intent="pi_each-1")]  # unknown id, known payment
    async with payments.sessionmaker() as session:
        session.add_all(events)
        await session.commit()
    async with payments.sessionmaker() as session:
        await processing.read_ahead(session, [event.event_id for event in events])
        for event in events:
            row = await processing.stored_event(session, event.event_id)
            assert row is not None and await processing.process(session, row) is not None
        await session.commit()
    refunded = [json.loads(row.payload)["data"] for row in await payments.outbox()
                if row.subject.startswith("payment.refunded")]
    assert [(fact["refund_id"], fact["order_id"], fact["refunded_total_cents"]) for fact in refunded] == [
        ("re_each_1", "each-1", 100), ("re_each_2", "each-2", 100), ("re_each_3", "each-1", 200)]
