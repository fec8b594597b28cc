"""Live reconciliation with Stripe: clean after a real flow; every injected difference is reported."""

from __future__ import annotations

from sqlalchemy import select
from standin_support import Stand, order_paid
from support import Payments, eventually
from test_payouts_flow import payouts_of

from homecraft_shared.db import utcnow
from homecraft_shared.testing import bearer
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import StripeRefund
from payments.reconciliation import service as reconciliation


async def test_reconciliation_is_clean_after_a_flow_and_reports_each_injected_difference(stand: Stand) -> None:
    owner = bearer(stand.private_key, "boss", "owner", username="boss")
    ada = await stand.ready_seller("ada")
    await stand.ready_seller("bob")
    order = order_paid("r1", [("ada", 4000), ("bob", 3000)], percent="12.5", shipping=500)
    pi, ch = await stand.paid_checkout(order)
    await stand.publish_order_paid(order.model_copy(update={"payment_intent_id": pi, "charge_id": ch}))
    await payouts_of(stand, "r1", 2)
    await stand.control("POST", "/refunds", {"payment_intent": pi, "amount": 700})
    dispute = await stand.control("POST", "/disputes", {"charge": ch, "amount": 1000})
    await stand.control("POST", f"/disputes/{dispute['id']}/close", {"outcome": "lost"})
    events = "/operator/stripe-events"
    await eventually(lambda: stand.payments.client.get(events, params={"type": "charge.dispute.closed",
                                                                        "status": "processed"}, headers=owner),
                     lambda r: r.json()["total"] == 1, within=60)
    await eventually(lambda: stand.payments.client.get(events, params={"status": "received"}, headers=owner),
                     lambda r: r.json()["total"] == 0, within=60)

    empty = await stand.payments.client.get("/operator/reconciliation", headers=owner)
    assert empty.json() == {"last_run": None, "last_clean_at": None, "scheduled_every_seconds": 3600.0,
                            "running_since": None}
    clean = await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)
    assert clean.status_code == 200, clean.text
    assert clean.json()["clean"] is True, clean.json()["differences"]
    assert clean.json()["trigger"] == "operator"

    # 1. a marketplace transfer made behind the ledger's back (funded by another buyer's payment)
    await stand.paid_checkout(order_paid("r2", [("ada", 5000)]))
    stray = await stand.stripe.v1.transfers.create_async({"amount": 100, "currency": "usd", "destination": ada,
                                                          "transfer_group": "r1", "metadata": {"order_id": "r1"}})
    # 2. a PAYOUT entry whose transfer Stripe never made; 3. a refund amount that differs
    async with stand.payments.session() as session:
        assert await ledger.record(session, domain.payout("r-ghost", "bob", 5, "tr_never_made"))
        refund = (await session.scalars(select(StripeRefund))).one()
        refund.amount_cents += 1
    run = await stand.payments.client.post("/operator/reconciliation/runs", headers=owner)
    found = {(d["kind"], d["object_type"], d["object_id"]) for d in run.json()["differences"]}
    assert run.json()["clean"] is False
    assert found == {
        ("stripe_without_entry", "transfer", stray.id),
        ("entry_without_stripe", "transfer", "tr_never_made"),
        ("amount_differs", "refund", refund.refund_id),
    }
    console = (await stand.payments.client.get("/operator/reconciliation", headers=owner)).json()
    assert console["last_run"]["id"] == run.json()["id"]
    assert console["last_clean_at"] == clean.json()["finished_at"]
    denied = await stand.payments.client.post("/operator/reconciliation/runs",
                                              headers=bearer(stand.private_key, "ada", "seller"))
    assert denied.status_code == 403


async def test_what_the_ledger_records_while_a_run_walks_stripe_is_left_to_the_next_run(payments: Payments) -> None:
    """A payout's transfer, a refund or a chargeback made while a run reads Stripe's lists is recorded after its
    list was read: that run must not call it missing at Stripe (a false alarm seen in CI, a transfer made
    mid-walk). A run whose lists were asked for after the recording must report what Stripe lacks."""
    walk_started = utcnow()
    async with payments.session() as session:
        assert await ledger.record(session, domain.payout("w1", "ada", 5, "tr_made_during_the_walk"))
        assert await ledger.record(session, domain.chargeback("w1", [], "dp_lost_during_the_walk", {}))
        session.add(StripeRefund(refund_id="re_made_during_the_walk", order_id="w1", amount_cents=300, currency="usd",
                                 status="succeeded", published_status="succeeded"))
    async with payments.session() as session:
        during = await reconciliation.compare(session, [], [], [], listed_from=walk_started)
        later = await reconciliation.compare(session, [], [], [], listed_from=utcnow())
    assert during == []
    assert sorted((d.kind, d.object_type, d.object_id) for d in later) == [
        ("entry_without_stripe", "dispute", "dp_lost_during_the_walk"),
        ("entry_without_stripe", "refund", "re_made_during_the_walk"),
        ("entry_without_stripe", "transfer", "tr_made_during_the_walk"),
    ]
