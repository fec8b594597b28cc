"""P7: each ``payment.refunded`` fact tells the order's refunded total so far and whether the order is now
fully refunded (orders and refunds act on it), as refunds of one order succeed, fail and repeat in turn;
only succeeded refunds count, and a repeat of a status already published tells nothing new."""

from __future__ import annotations

import json
from typing import Any

from standin_support import order_paid
from support import Payments, stripe_event

from payments.models import PaidOrder


def refund(refund_id: str, amount: int, status: str) -> dict[str, Any]:
    return {"id": refund_id, "object": "refund", "status": status, "amount": amount, "currency": "usd",
            "payment_intent": "pi_totals", "charge": "ch_totals", "metadata": {"order_id": "totals-1"}}


async def refunded_facts(payments: Payments) -> list[tuple[str, str, int, bool]]:
    """(refund, status, refunded total, fully refunded) of every payment.refunded in the outbox, in order."""
    facts = [json.loads(row.payload)["data"] for row in await payments.outbox()
             if row.subject.startswith("payment.refunded")]
    return [(f["refund_id"], f["status"], f["refunded_total_cents"], f["fully_refunded"]) for f in facts]


async def observe(payments: Payments, event_type: str, obj: dict[str, Any], created: int) -> None:
    event = stripe_event(event_type, obj, created=created)
    assert (await payments.webhook(event)).status_code == 200
    assert (await payments.processed(event["id"], statuses=("processed",))).status == "processed"


async def refunded_cause(payments: Payments) -> str | None:
    async with payments.sessionmaker() as session:
        order = await session.get(PaidOrder, "totals-1")
        assert order is not None
        return order.refunded_cause


async def test_p7_refunded_total_and_fully_refunded_follow_each_refunds_status(payments: Payments) -> None:
    assert await payments.deliver(order_paid("totals-1", [("ada", 2000), ("bob", 1000)], payment_intent_id="pi_totals",
                                             charge_id="ch_totals"))
    created = 1_790_000_000
    await observe(payments, "refund.created", refund("re_a", 1000, "pending"), created)
    await observe(payments, "refund.created", refund("re_b", 2000, "succeeded"), created + 1)
    assert await refunded_cause(payments) is None
    await observe(payments, "refund.updated", refund("re_a", 1000, "succeeded"), created + 2)
    assert await refunded_cause(payments) == "refund"  # 3000 of 3000 charged
    await observe(payments, "refund.updated", refund("re_a", 1000, "succeeded"), created + 3)  # a repeat
    await observe(payments, "refund.updated", refund("re_b", 2000, "failed"), created + 4)
    assert await refunded_facts(payments) == [
        ("re_a", "pending", 0, False),  # a pending refund is not refunded money yet
        ("re_b", "succeeded", 2000, False),  # nor is another one pending beside it
        ("re_a", "succeeded", 3000, True),
        # the repeat of re_a's succeeded publishes nothing
        ("re_b", "failed", 1000, False),  # a refund that failed after succeeding no longer counts
    ]
