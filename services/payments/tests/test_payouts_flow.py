"""A purchase paid on the stand-in's checkout, then payouts (P5), the ledger (P6), refunds (P7) and
disputes (P8), end to end: the official stripe library against the stand-in over HTTP, its signed
webhooks into the payments service over HTTP, order.paid over JetStream."""

from __future__ import annotations

from sqlalchemy import func, select
from standin_support import Stand, order_paid
from support import eventually

from homecraft_shared.messaging.tables import OutboxEvent
from homecraft_shared.testing import bearer
from payments.ledger import service as ledger_service
from payments.models import LedgerEntry, OperatorAction, Payout


async def payouts_of(stand: Stand, order_id: str, count: int) -> dict[str, Payout]:
    async def fetch() -> dict[str, Payout]:
        async with stand.payments.sessionmaker() as session:
            rows = (await session.scalars(select(Payout).where(Payout.order_id == order_id))).all()
            return {row.seller_id: row for row in rows}

    # planned transfers are made right after their plan commits (decision 0316): wait for them too
    return await eventually(fetch, lambda rows: len(rows) == count and all(r.status != "pending" for r in rows.values()),
                            within=60)


async def balances(stand: Stand) -> dict[str, int]:
    async with stand.payments.sessionmaker() as session:
        summed, stored = await ledger_service.ledger_totals(session)
    assert stored == summed  # P6: stored balance = Σ entries (one snapshot)
    return summed


async def outbox_types(stand: Stand) -> list[str]:
    async with stand.payments.sessionmaker() as session:
        return [s for (s,) in (await session.execute(select(OutboxEvent.subject).order_by(OutboxEvent.seq))).all()]


async def test_p5_paid_purchase_pays_every_ready_seller_and_credits_the_unready_one(stand: Stand) -> None:
    ada = await stand.ready_seller("ada")
    bob = await stand.ready_seller("bob")
    order = order_paid("o1", [("ada", 1000), ("bob", 2500), ("cy", 800)], percent="12.5", tax=100)
    payment_intent, charge = await stand.paid_checkout(order)
    assert "payment.checkout_completed.v1" in await outbox_types(stand)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": payment_intent, "charge_id": charge}))

    payouts = await payouts_of(stand, "o1", 3)
    assert (payouts["ada"].status, payouts["ada"].amount_cents) == ("transferred", 875)
    assert (payouts["bob"].status, payouts["bob"].amount_cents) == ("transferred", 2187)  # fee 312.5 -> 313
    assert (payouts["cy"].status, payouts["cy"].skip_reason) == ("skipped", "seller_not_ready")
    assert await balances(stand) == {"ada": 0, "bob": 0, "cy": 700}  # cy's earnings wait (P5, P6)

    transfers = {t.destination: t for t in (await stand.stripe.v1.transfers.list_async({"limit": 100})).data}
    assert transfers[ada].amount == 875 and transfers[ada].transfer_group == "o1"
    assert transfers[bob].amount == 2187 and transfers[bob].source_transaction == charge
    types = await outbox_types(stand)
    assert types.count("payout.transfer_created.v1") == 2 and types.count("payout.skipped.v1") == 1

    # P5: the seed's bug (a second sale eaten by the first payout) is not copied
    second = order_paid("o2", [("ada", 2000)], percent="12.5")
    pi2, ch2 = await stand.paid_checkout(second)
    await stand.publish_order_paid(second.model_copy(update={"payment_intent_id": pi2, "charge_id": ch2}))
    assert (await payouts_of(stand, "o2", 1))["ada"].amount_cents == 1750

    # P9: cy onboards late; an operator's retry pays the waiting earnings, recorded with who
    await stand.ready_seller("cy")
    owner = bearer(stand.private_key, "boss", "owner", username="boss")
    retried = await stand.payments.client.post("/operator/payouts/retry", json={"order_ids": ["o1", "o2", "nope"]},
                                               headers=owner)
    assert retried.status_code == 200, retried.text
    outcome = {r["order_id"]: r for r in retried.json()}
    assert outcome["o1"]["outcome"] == "retried" and outcome["o1"]["planned_cents"] == 700
    assert outcome["o1"]["detail"] == "cy: pending"
    assert outcome["o2"]["outcome"] == "skipped" and outcome["nope"]["outcome"] == "skipped"
    assert (await payouts_of(stand, "o1", 3))["cy"].amount_cents == 700
    assert await balances(stand) == {"ada": 0, "bob": 0, "cy": 0}
    again = await stand.payments.client.post("/operator/payouts/retry", json={"order_ids": ["o1"]}, headers=owner)
    assert again.json()[0]["outcome"] == "skipped"  # a transfer exists for every seller now
    async with stand.payments.sessionmaker() as session:
        actions = (await session.scalars(select(OperatorAction).order_by(OperatorAction.id))).all()
    assert [(a.actor_name, a.action, a.target) for a in actions][:3] == [
        ("boss", "payout_retry", "o1"), ("boss", "payout_retry", "o2"), ("boss", "payout_retry", "nope")]
    assert all(a.at is not None for a in actions)
    seller = bearer(stand.private_key, "ada", "seller")
    page = (await stand.payments.client.get("/payouts/me", headers=seller)).json()
    assert [e["reason"] for e in page["entries"]] == ["payout", "sale", "payout", "sale"]  # newest first (P9)
    assert page["connect"]["ready"] is True and page["page_size"] == 50
    only = (await stand.payments.client.get("/payouts/me", params={"reason": "sale", "q": "o2"}, headers=seller)).json()
    assert [(e["reason"], e["order_id"], e["amount_cents"]) for e in only["entries"]] == [("sale", "o2", 1750)]
    assert only["total"] == 1
    assert (await stand.payments.client.get("/payouts/me", params={"page": 2}, headers=seller)).json()["entries"] == []
    bad = await stand.payments.client.get("/payouts/me", params={"reason": "bonus"}, headers=seller)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    buyer_only = await stand.payments.client.get("/payouts/me", headers=bearer(stand.private_key, "b1"))
    assert buyer_only.status_code == 403

    # the same order.paid delivered again changes nothing
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": payment_intent, "charge_id": charge}))
    await stand.payments.client.get("/healthz")
    async with stand.payments.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 8  # 4 sales + 4 payouts


async def test_p7_refund_request_debits_its_lines_seller_once_and_dashboard_refund_spreads(stand: Stand) -> None:
    await stand.ready_seller("ada")
    await stand.ready_seller("bob")
    order = order_paid("o7", [("ada", 1000), ("bob", 3000)], percent="10", tax=200, shipping=300)
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "o7", 2)
    assert await balances(stand) == {"ada": 0, "bob": 0}

    # R3/R4: bob refunds his line (gross + tax and shipping shares); only bob is debited, his line's net
    body = {"refund_request_id": "rr-1", "order_id": "o7", "line_ids": ["o7-L1"], "amount_cents": 3375}
    bob_token = bearer(stand.private_key, "bob", "seller")
    denied = await stand.payments.client.post("/refunds", json=body, headers=bearer(stand.private_key, "ada", "seller"))
    assert denied.status_code == 403
    first = await stand.payments.client.post("/refunds", json=body, headers=bob_token)
    assert first.status_code == 201, first.text
    again = await stand.payments.client.post("/refunds", json=body, headers=bob_token)
    assert again.status_code == 200 and again.json()["refund_id"] == first.json()["refund_id"]
    assert await balances(stand) == {"ada": 0, "bob": -2700}
    # the webhooks for the same refund (refund.created, charge.refunded) move nothing more
    await eventually(lambda: stand.payments.client.get(
        "/operator/stripe-events", params={"type": "charge.refunded", "status": "processed"},
        headers=bearer(stand.private_key, "boss", "owner")), lambda r: r.json()["total"] == 1, within=60)
    assert await balances(stand) == {"ada": 0, "bob": -2700}

    # a dashboard refund (no lines named) is allocated over the net that is left: bob's line has none
    # left (its whole net was debited), so ada's line takes it, never more than its net (P7)
    await stand.control("POST", "/refunds", {"payment_intent": pi, "amount": 1000})
    await eventually(lambda: balances(stand), lambda b: b["ada"] != 0, within=60)
    assert await balances(stand) == {"ada": -900, "bob": -2700}
    refunded = await outbox_types(stand)
    assert refunded.count("payment.refunded.v1") == 2

    # bob's next sale is reduced by what he owes (negative balance carried, P5)
    nxt = order_paid("o8", [("bob", 10000)], percent="10")
    pi8, ch8 = await stand.paid_checkout(nxt)
    await stand.publish_order_paid(nxt.model_copy(update={"payment_intent_id": pi8, "charge_id": ch8}))
    assert (await payouts_of(stand, "o8", 1))["bob"].amount_cents == 9000 - 2700
    assert (await balances(stand))["bob"] == 0


async def test_p8_lost_dispute_charges_back_whats_left_once(stand: Stand) -> None:
    await stand.ready_seller("ada")
    order = order_paid("o9", [("ada", 1000), ("dee", 500)], percent="0")
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "o9", 2)
    dispute = await stand.control("POST", "/disputes", {"charge": ch})
    await stand.control("POST", f"/disputes/{dispute['id']}/close", {"outcome": "lost"})
    await eventually(lambda: balances(stand), lambda b: b.get("ada") == -1000, within=60)
    assert await balances(stand) == {"ada": -1000, "dee": 0}  # dee was never paid: 500 credited, 500 charged back
    types = await outbox_types(stand)
    assert types.count("payment.dispute_updated.v1") == 2  # created, closed
