"""Refund execution's bad input (R3, R4): a clear 4xx naming the problem, and nothing written -- no
refund row, no ledger entry, no event -- before Stripe is ever asked."""

from __future__ import annotations

from typing import Any

from standin_support import order_paid
from support import Payments

from homecraft_shared.events.orders import OrderPaidV1
from homecraft_shared.messaging.tables import OutboxEvent
from payments.models import LedgerEntry, StripeRefund

WRITES = (StripeRefund, LedgerEntry, OutboxEvent)


def free(order: OrderPaidV1) -> OrderPaidV1:
    lines = [line.model_copy(update={"unit_price_cents": 0, "gross_cents": 0, "fee_cents": 0, "net_cents": 0})
             for line in order.lines]
    return order.model_copy(update={"payment_method": "free", "payment_intent_id": None, "charge_id": None,
                                    "subtotal_cents": 0, "total_cents": 0, "lines": lines})


async def test_r3_bad_refund_requests_are_refused_and_write_nothing(payments: Payments) -> None:
    assert await payments.deliver(order_paid("in-1", [("ada", 2000)], payment_intent_id="pi_in", charge_id="ch_in"))
    assert await payments.deliver(free(order_paid("in-free", [("ada", 100)])))
    before = await payments.counts(*WRITES)
    owner = payments.owner()
    good: dict[str, Any] = {"refund_request_id": "rr-in", "order_id": "in-1", "line_ids": ["in-1-L0"],
                            "amount_cents": 500}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({**good, "amount_cents": 0}, 422, "amount_cents"),
        ({**good, "amount_cents": -5}, 422, "amount_cents"),
        ({**good, "amount_cents": "500"}, 422, "amount_cents"),  # a number, not a string
        ({**good, "amount_cents": 100_000_001}, 422, "amount_cents"),
        ({**good, "line_ids": []}, 422, "line_ids"),
        ({**good, "line_ids": ["in-1-L0\u0000"]}, 422, "line_ids"),
        ({**good, "refund_request_id": ""}, 422, "refund_request_id"),
        ({**good, "order_id": "x" * 65}, 422, "order_id"),
        ({k: v for k, v in good.items() if k != "order_id"}, 422, "order_id"),
        ({**good, "order_id": "no-such-order"}, 404, "No paid order no-such-order"),
        ({**good, "line_ids": ["in-1-L9"]}, 404, "has no lines in-1-L9"),
        ({**good, "order_id": "in-free", "line_ids": ["in-free-L0"]}, 409, "free order"),
    ]
    for body, status, says in cases:
        response = await payments.client.post("/refunds", json=body, headers=owner)
        assert response.status_code == status, (body, response.text)
        assert says.lower() in response.text.lower(), (says, response.text)
    # another seller's line: refused (R4); no token at all: 401
    assert (await payments.client.post("/refunds", json=good, headers=payments.seller("bob"))).status_code == 403
    assert (await payments.client.post("/refunds", json=good)).status_code == 401
    assert await payments.counts(*WRITES) == before
