"""P4: a Stripe event about an order this service has not seen paid yet is stored and waits, never
dropped; when the order's ``order.paid`` arrives (through the real consumer path) it is processed, and
the ledger moves once (P7) however often the event is delivered."""

from __future__ import annotations

from standin_support import order_paid
from support import Payments, eventually, stripe_event

from payments.ledger import repository as ledger


async def test_p4_a_refund_before_its_order_waits_then_debits_once_when_the_order_arrives(payments: Payments) -> None:
    order = order_paid("late-1", [("ada", 2000), ("bob", 1000)], percent="12.5", payment_intent_id="pi_late",
                       charge_id="ch_late")
    refund = {"id": "re_late", "object": "refund", "status": "succeeded", "amount": 800, "currency": "usd",
              "payment_intent": "pi_late", "charge": "ch_late",
              "metadata": {"order_id": "late-1", "line_ids": "late-1-L0"}}
    event = stripe_event("refund.created", refund)
    assert (await payments.webhook(event)).status_code == 200
    waiting = await payments.processed(event["id"])
    assert (waiting.status, waiting.waiting_for_order) == ("waiting", "late-1")
    assert (await payments.webhook(event)).status_code == 200  # delivered again while waiting: still one row
    assert await payments.stored_count() == 1

    assert await payments.deliver(order)  # order.paid, as orders publishes it
    done = await payments.processed(event["id"], statuses=("processed",))
    assert "refund re_late succeeded" in done.outcome

    async def balances() -> dict[str, int]:
        async with payments.sessionmaker() as session:
            return await ledger.sum_by_seller(session)

    # sellers are not payout-ready: their nets wait in the balance; ada's line takes the whole refund (P7)
    assert await eventually(balances, lambda b: b.get("ada") == 1750 - 800) == {"ada": 950, "bob": 875}
    assert (await payments.webhook(event)).status_code == 200  # late duplicate after processing: nothing moves
    await payments.processed(event["id"], statuses=("processed",))
    assert await balances() == {"ada": 950, "bob": 875}
