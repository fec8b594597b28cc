"""Operator adjustments (P6's Σ adjustments, A3): owners only, signed, with a reason, recorded with who and
when, append-only, once per Idempotency-Key; shown in the balance and the seller payouts API. Bad input is
a clear 4xx and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support import Payments

from homecraft_shared.testing import bearer
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import LedgerAdjustment, LedgerEntry, LedgerMovement, OperatorAction, SellerAccount, SellerBalance

TABLES = (LedgerAdjustment, LedgerEntry, LedgerMovement, OperatorAction, SellerBalance)


@pytest.fixture
async def payments(payments: Payments) -> Payments:
    """The service with a seller who has a Connect account and one sale (900 cents net)."""
    async with payments.session() as session:
        session.add(SellerAccount(seller_id="ada", email="ada@example.com"))
        await ledger.record(session, domain.sales("o1", [domain.Line("o1-L0", "ada", 1000, 100, 900)]))
    return payments


async def counts(payments: Payments) -> dict[str, int]:
    return await payments.counts(*TABLES)


def key(n: int) -> dict[str, str]:
    return {"Idempotency-Key": f"adjust-key-{n:04d}"}


async def test_p6_an_owner_adjusts_once_per_key_with_who_and_when(payments: Payments,
                                                                  identity_keys: tuple[str, str]) -> None:
    boss = bearer(payments.private_pem, "boss", "owner", username="The Boss")
    body = {"seller_id": "ada", "amount_cents": -250, "reason": "  Shipping label bought for the seller  "}
    first = await payments.client.post("/operator/adjustments", json=body, headers={**boss, **key(1)})
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["amount_cents"], made["reason"], made["actor_id"], made["actor_name"], made["balance_cents"]) == (
        -250, "Shipping label bought for the seller", "boss", "The Boss", 650)
    # the same key again (a retried click): the same adjustment, nothing moves twice
    again = await payments.client.post("/operator/adjustments", json=body, headers={**boss, **key(1)})
    assert again.status_code == 200 and again.json()["id"] == made["id"] and again.json()["balance_cents"] == 650
    # the same key for another amount: refused, not a second adjustment
    other = await payments.client.post("/operator/adjustments", json={**body, "amount_cents": -1},
                                       headers={**boss, **key(1)})
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    credit = await payments.client.post("/operator/adjustments", headers={**boss, **key(2)},
                                        json={"seller_id": "ada", "amount_cents": 75, "reason": "goodwill"})
    assert credit.status_code == 201 and credit.json()["balance_cents"] == 725

    # the seller sees them in the payouts API: balance = Σ sales - Σ payouts - Σ debits + Σ adjustments (P6)
    mine = (await payments.client.get("/payouts/me", headers=bearer(identity_keys[0], "ada", "seller"))).json()
    assert (mine["balance_cents"], mine["adjusted_cents"]) == (725, -175)
    assert [(e["reason"], e["amount_cents"], e["note"]) for e in mine["entries"]] == [
        ("adjustment", 75, "goodwill"), ("adjustment", -250, "Shipping label bought for the seller"), ("sale", 900, "sale on order o1")]
    only = (await payments.client.get("/payouts/sellers/ada", params={"reason": "adjustment"}, headers=boss)).json()
    assert only["total"] == 2 and only["adjusted_cents"] == -175
    listed = (await payments.client.get("/operator/adjustments", params={"seller_id": "ada"}, headers=boss)).json()
    assert [i["amount_cents"] for i in listed["items"]] == [75, -250] and listed["total"] == 2
    async with payments.sessionmaker() as session:
        assert (await ledger.balances_against_entries(session))["ada"] == (725, 725)  # stored = Σ entries
        actions = (await session.scalars(select(OperatorAction).where(OperatorAction.action == "ledger_adjustment"))).all()
    assert [(a.actor_id, a.target) for a in actions] == [("boss", "ada"), ("boss", "ada")]


async def test_a3_only_owners_adjust_and_bad_input_writes_nothing(payments: Payments,
                                                                 identity_keys: tuple[str, str]) -> None:
    boss = bearer(identity_keys[0], "boss", "owner")
    good = {"seller_id": "ada", "amount_cents": 100, "reason": "correction"}
    before = await counts(payments)
    for headers, expected in ((bearer(identity_keys[0], "ada", "seller"), 403), ({}, 401),
                              (bearer(identity_keys[0], "orders", "service"), 403)):
        response = await payments.client.post("/operator/adjustments", json=good, headers={**headers, **key(3)})
        assert response.status_code == expected, response.text
        listed = await payments.client.get("/operator/adjustments", headers=headers)
        assert listed.status_code == expected
    cases: list[tuple[dict[str, object], dict[str, str], str]] = [
        ({**good, "amount_cents": 0}, key(4), "amount_cents"),
        ({**good, "amount_cents": 10_000_001}, key(5), "amount_cents"),
        ({**good, "amount_cents": "100"}, key(6), "amount_cents"),  # strict: a number, not a string
        ({**good, "amount_cents": 1.5}, key(7), "amount_cents"),
        ({**good, "reason": "   "}, key(8), "reason"),
        ({**good, "reason": "x\u0000y ok"}, key(9), "reason"),
        ({**good, "seller_id": "nobody"}, key(10), "seller_id"),
        ({**good, "seller_id": ""}, key(11), "seller_id"),
        ({"seller_id": "ada", "amount_cents": 5}, key(12), "reason"),
        (good, {"Idempotency-Key": "short"}, "Idempotency-Key"),
        (good, {}, "Idempotency-Key"),
    ]
    for body, headers, field in cases:
        response = await payments.client.post("/operator/adjustments", json=body, headers={**boss, **headers})
        assert response.status_code == 422, (body, response.text)
        assert field.lower() in response.text.lower(), (field, response.text)
    assert await counts(payments) == before
