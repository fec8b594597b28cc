"""Live reconciliation with Stripe: walk Stripe's lists (transfers, refunds, disputes; every page) and
the ledger, and report every difference -- a Stripe object with no ledger entry, an entry with no
Stripe object, an amount that differs -- plus the ledger's own invariant (stored balance = Σ entries,
P6). Each run is stored; the operator console reads the last one and the time of the last clean one.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.db import utcnow
from payments.deps import Deps
from payments.ledger import repository as ledger
from payments.models import (
    Checkout,
    Dispute,
    LedgerEntry,
    LedgerMovement,
    PaidOrder,
    Payout,
    ReconciliationRun,
    StripeRefund,
)
from payments.stripe_objects import collect, object_id, text


@dataclass(frozen=True)
class Difference:
    kind: str  # stripe_without_entry | entry_without_stripe | amount_differs | status_differs | balance_mismatch
    object_type: str  # transfer | refund | dispute | balance
    object_id: str
    order_id: str | None
    stripe_cents: int | None
    ledger_cents: int | None
    detail: str


async def _stripe_lists(deps: Deps) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    v1 = deps.stripe.v1
    transfers = await collect(await v1.transfers.list_async({"limit": 100}))
    refunds = await collect(await v1.refunds.list_async({"limit": 100}))
    disputes = await collect(await v1.disputes.list_async({"limit": 100}))
    return transfers, refunds, disputes


async def compare(session: AsyncSession, transfers: list[dict[str, Any]], refunds: list[dict[str, Any]],
                  disputes: list[dict[str, Any]], *, listed_from: dt.datetime) -> list[Difference]:
    """``listed_from``: when the lists were first asked of Stripe. What the ledger recorded from then on may
    be of an object made after its list was read (a payout's transfer made during the walk): not missing
    from Stripe yet, so the next run checks it. What it recorded before must be on the lists: it is recorded
    only after Stripe made the object."""
    out: list[Difference] = []
    # which payments are ours (a Stripe account may have other business on it)
    intents: dict[str, str] = {}
    charges: dict[str, str] = {}
    for table in (PaidOrder, Checkout):
        for ours, intent, charge in (await session.execute(
                select(table.order_id, table.payment_intent_id, table.charge_id))).all():
            intents.update({intent: ours} if intent else {})
            charges.update({charge: ours} if charge else {})

    # transfers <-> PAYOUT entries
    payouts = {e.stripe_object_id: e for e in (await session.scalars(
        select(LedgerEntry).where(LedgerEntry.reason == "payout"))).all()}
    # Planned payouts not recorded yet: a transfer of one may be made at Stripe while its answer was lost;
    # the transfer maker records it on its next pass (decision 0316), so it is no difference yet.
    in_flight = {(order_id, seller_id) for order_id, seller_id in (await session.execute(
        select(Payout.order_id, Payout.seller_id).where(Payout.status == "pending"))).all()}
    seen: set[str] = set()
    for transfer in transfers:
        metadata = transfer.get("metadata") or {}
        group = text(metadata.get("order_id")) or text(transfer.get("transfer_group")) or None
        entry = payouts.get(transfer["id"])
        if entry is None:
            if (group, text(metadata.get("seller_id"))) in in_flight:
                continue
            if group:  # a marketplace transfer the ledger does not know
                out.append(Difference("stripe_without_entry", "transfer", transfer["id"], group, transfer["amount"], None,
                                      "a Stripe transfer with no PAYOUT entry"))
            continue
        seen.add(transfer["id"])
        net_amount = int(transfer["amount"]) - int(transfer.get("amount_reversed") or 0)
        if net_amount != -entry.amount_cents:
            out.append(Difference("amount_differs", "transfer", transfer["id"], entry.order_id, net_amount,
                                  -entry.amount_cents, "transfer amount (less reversals) != PAYOUT entry"))
    for transfer_id, entry in payouts.items():
        if transfer_id not in seen and entry.created_at < listed_from:
            out.append(Difference("entry_without_stripe", "transfer", transfer_id or "?", entry.order_id, None,
                                  -entry.amount_cents, "a PAYOUT entry whose transfer Stripe does not have"))

    # refunds <-> refund rows and their movements (debited once when succeeded)
    rows = {r.refund_id: r for r in (await session.scalars(select(StripeRefund))).all()}
    moved = set((await session.scalars(select(LedgerMovement.stripe_object_id).where(LedgerMovement.kind == "refund"))).all())
    seen = set()
    for refund in refunds:
        refund_order = intents.get(object_id(refund.get("payment_intent"))) or charges.get(object_id(refund.get("charge")))
        if refund_order is None:
            continue
        seen.add(refund["id"])
        row = rows.get(refund["id"])
        if row is None or (refund.get("status") == "succeeded" and refund["id"] not in moved):
            out.append(Difference("stripe_without_entry", "refund", refund["id"], refund_order, refund["amount"], None,
                                  f"a {refund.get('status')} refund the ledger has not recorded"))
        elif row.amount_cents != refund["amount"]:
            out.append(Difference("amount_differs", "refund", refund["id"], refund_order, refund["amount"], row.amount_cents,
                                  "refund amount differs"))
        elif row.status != refund.get("status"):
            out.append(Difference("status_differs", "refund", refund["id"], refund_order, refund["amount"], row.amount_cents,
                                  f"Stripe says {refund.get('status')}, the ledger {row.status}"))
    for refund_id, row in rows.items():
        if refund_id not in seen and row.created_at < listed_from:
            out.append(Difference("entry_without_stripe", "refund", refund_id, row.order_id, None, row.amount_cents,
                                  "a recorded refund Stripe does not have"))

    # disputes: lost ones must have a chargeback movement, and only they
    # each charged-back dispute with the time its movement was recorded
    charged_back_at = {stripe_object_id: created_at for stripe_object_id, created_at in (await session.execute(
        select(LedgerMovement.stripe_object_id, LedgerMovement.created_at)
        .where(LedgerMovement.kind == "chargeback"))).all()}
    chargebacks = set(charged_back_at)
    known = {d.dispute_id: d for d in (await session.scalars(select(Dispute))).all()}
    seen = set()
    for dispute in disputes:
        dispute_order = charges.get(object_id(dispute.get("charge")))
        if dispute_order is None:
            continue
        seen.add(dispute["id"])
        if dispute.get("status") == "lost" and dispute["id"] not in chargebacks:
            out.append(Difference("stripe_without_entry", "dispute", dispute["id"], dispute_order, dispute["amount"], None,
                                  "a lost dispute with no chargeback entries"))
        elif dispute.get("status") != "lost" and dispute["id"] in chargebacks:
            out.append(Difference("status_differs", "dispute", dispute["id"], dispute_order, dispute["amount"], None,
                                  f"charged back, but Stripe says {dispute.get('status')}"))
        elif dispute["id"] not in known:
            out.append(Difference("stripe_without_entry", "dispute", dispute["id"], dispute_order, dispute["amount"], None,
                                  "a dispute the service never recorded"))
    for dispute_id in {dispute_id for dispute_id, at in charged_back_at.items() if at < listed_from} - seen:
        out.append(Difference("entry_without_stripe", "dispute", dispute_id or "?", None, None, None,
                              "chargeback entries for a dispute Stripe does not have"))

    # the ledger's own invariant (P6)
    for seller_id, (stored, total) in (await ledger.balances_against_entries(session)).items():
        if stored != total:
            out.append(Difference("balance_mismatch", "balance", seller_id, None, None, stored,
                                  f"stored balance {stored} != Σ entries {total}"))
    return out


async def run(sessionmaker: async_sessionmaker[AsyncSession], deps: Deps, *, trigger: str = "operator",
              runner: str = "") -> ReconciliationRun:
    """One run, stored (a failure to reach Stripe is stored too, as an unclean run with its error).
    Call it through ``payments.reconciliation.job`` so only one runs at a time across replicas."""
    started = utcnow()
    differences: list[Difference] = []
    error = None
    try:
        transfers, refunds, disputes = await _stripe_lists(deps)
        async with sessionmaker() as session:
            differences = await compare(session, transfers, refunds, disputes, listed_from=started)
    except Exception as exc:  # stored for the operator, not raised into a loop
        error = f"{exc.__class__.__name__}: {exc}"
    async with sessionmaker() as session:
        row = ReconciliationRun(started_at=started, finished_at=utcnow(), clean=error is None and not differences,
                                trigger=trigger, runner=runner[:200],
                                differences=json.dumps([asdict(d) for d in differences]), error=error)
        session.add(row)
        await session.commit()
        return row


async def latest(session: AsyncSession) -> tuple[ReconciliationRun | None, ReconciliationRun | None]:
    """(the last run, the last clean run as of that one): a run finishing between the two reads (each its own
    snapshot) must not make the pair disagree (a clean time later than the last run shown)."""
    last = await session.scalar(select(ReconciliationRun).order_by(ReconciliationRun.id.desc()).limit(1))
    if last is None:
        return None, None
    clean = await session.scalar(select(ReconciliationRun).where(ReconciliationRun.clean.is_(True),
                                                                  ReconciliationRun.id <= last.id)
                                 .order_by(ReconciliationRun.id.desc()).limit(1))
    return last, clean
