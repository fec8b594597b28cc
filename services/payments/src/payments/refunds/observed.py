"""Stripe refunds as observed (P4 charge.refunded / refund.created / refund.updated) into the ledger (P7).

Each refund moves the ledger once (movement ``refund:<re_id>``), whichever path saw it first: this
webhook path or refund execution for a refund request (payments.refunds.execution). Debits happen
when the refund has succeeded; one that fails or is canceled after that is credited back once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import LineDebit, PaymentRefundedV1
from homecraft_shared.messaging.outbox import record_event
from payments.deps import deps
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import Checkout, PaidOrder, StripeRefund
from payments.paid_orders import repository as orders
from payments.stripe_objects import cents, collect, object_id, text
from payments.webhooks.processing import Outcome, StripeFact

KNOWN_STATUSES = ("pending", "requires_action", "succeeded", "failed", "canceled")


def line_ids_of(refund: dict[str, Any]) -> list[str] | None:
    """The order lines a refund is for, from its metadata (``line_ids``, comma-separated); None: not tied."""
    raw = text((refund.get("metadata") or {}).get("line_ids"))
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    return ids or None


async def on_refund(session: AsyncSession, fact: StripeFact) -> Outcome:
    return await observe(session, fact.object, fact.created)


async def on_charge_refunded(session: AsyncSession, fact: StripeFact) -> Outcome:
    charge = fact.object
    refunds = (charge.get("refunds") or {}).get("data")
    if refunds is None:  # newer API versions do not include them: ask Stripe
        refunds = await collect(await deps(session).stripe.v1.refunds.list_async(
            {"charge": text(charge.get("id")), "limit": 100}))
    messages = []
    for refund in refunds:
        refund = dict(refund)
        refund.setdefault("charge", charge.get("id"))
        refund.setdefault("payment_intent", charge.get("payment_intent"))
        refund.setdefault("metadata", {})
        if not (refund.get("metadata") or {}).get("order_id"):
            refund["metadata"] = {**(refund.get("metadata") or {}), **{
                k: v for k, v in (charge.get("metadata") or {}).items() if k == "order_id"}}
        outcome = await observe(session, refund, fact.created)
        if outcome.status == "waiting":
            return outcome
        messages.append(outcome.message)
    return Outcome.done("; ".join(messages) or "charge refunded with no refunds listed")


async def observe(session: AsyncSession, refund: dict[str, Any], observed_at: dt.datetime) -> Outcome:
    refund_id = text(refund.get("id"))
    if not refund_id:
        raise ValueError("refund without an id")
    status = text(refund.get("status"))
    if status not in KNOWN_STATUSES:
        raise ValueError(f"refund {refund_id} has an unknown status {status!r}")
    metadata = refund.get("metadata") or {}
    payment_intent_id = object_id(refund.get("payment_intent")) or None
    charge_id = object_id(refund.get("charge")) or None
    order = await orders.find(session, order_id=text(metadata.get("order_id")) or None,
                              payment_intent_id=payment_intent_id, charge_id=charge_id)
    if order is None:
        key = orders.wait_key(order_id=text(metadata.get("order_id")) or None, payment_intent_id=payment_intent_id,
                              charge_id=charge_id)
        return Outcome.wait(key or refund_id, f"refund {refund_id}: its order is not known as paid yet")
    return await apply(session, order, refund_id=refund_id, status=status, amount_cents=cents(refund.get("amount")),
                       currency=text(refund.get("currency")).lower() or order.currency,
                       payment_intent_id=payment_intent_id or order.payment_intent_id, charge_id=charge_id or order.charge_id,
                       line_ids=line_ids_of(refund), refund_request_id=text(metadata.get("refund_request_id")) or None,
                       observed_at=observed_at)


async def apply(session: AsyncSession, order: PaidOrder, *, refund_id: str, status: str, amount_cents: int, currency: str,
                payment_intent_id: str | None, charge_id: str | None, line_ids: list[str] | None,
                refund_request_id: str | None, observed_at: dt.datetime) -> Outcome:
    """Record what is known of one refund: its row, the ledger (once), the fact for orders and refunds."""
    await ledger.lock_order(session, order.order_id)
    row = await session.get(StripeRefund, refund_id)
    if row is None:
        # published_status is set here, not by an UPDATE below: a new row's fact is always published.
        row = StripeRefund(refund_id=refund_id, order_id=order.order_id, amount_cents=amount_cents, currency=currency,
                           status=status, line_ids=",".join(line_ids or []), refund_request_id=refund_request_id,
                           payment_intent_id=payment_intent_id, charge_id=charge_id, published_status=None)
        session.add(row)
        new_row = True
    else:
        new_row = False
        if _rank(status) >= _rank(row.status):  # an older update arriving late does not undo a newer one
            row.status = status
            row.updated_at = utcnow()
    status = row.status
    publish = row.published_status != status
    if new_row:
        row.published_status = status
    lines = await orders.domain_lines(session, order.order_id)
    debits: dict[str, int] = {}
    if status == "succeeded":
        movement = domain.refund(order.order_id, lines, refund_id, amount_cents=row.amount_cents,
                                 debited=await ledger.line_debits(session, order.order_id),
                                 line_ids=row.line_ids.split(",") if row.line_ids else None)
        # Recorded now: its entries are the movement's; seen before (by the other path): read them back.
        entries = (movement.entries if await ledger.record(session, movement)
                   else await ledger.entries_of_movement(session, movement.key))
        debits = {e.line_id or "": -e.amount_cents for e in entries}
    elif status in ("failed", "canceled"):
        earlier = await ledger.entries_of_movement(session, f"refund:{refund_id}")
        if earlier:
            await ledger.record(session, domain.reversal(f"refund:{refund_id}", order.order_id, refund_id, [
                domain.Entry(e.key, e.seller_id, e.amount_cents, domain.Reason(e.reason), e.order_id, e.line_id,
                             e.stripe_object_id, e.note) for e in earlier]))
    await session.flush()
    refunded_total, charged = await _refunded_and_charged(session, order)
    fully = charged > 0 and refunded_total >= charged
    if fully and order.refunded_cause is None:
        order.refunded_cause = "refund"
    if publish:
        row.published_status = status
        sellers = {line.line_id: line.seller_id for line in lines}
        record_event(session, PaymentRefundedV1(
            order_id=order.order_id, refund_id=refund_id, payment_intent_id=payment_intent_id or "",
            charge_id=charge_id, status=status, amount_cents=row.amount_cents, currency=row.currency,
            line_ids=row.line_ids.split(",") if row.line_ids else [], refund_request_id=row.refund_request_id,
            debits=[LineDebit(line_id=k, seller_id=sellers[k], debit_cents=v) for k, v in debits.items() if k in sellers],
            refunded_total_cents=refunded_total, charged_total_cents=charged, fully_refunded=fully,
            observed_at=observed_at,
        ), subject_id=order.order_id)
    partial = "" if fully else f" (partial: {refunded_total} of {charged} cents refunded)"
    return Outcome.done(f"refund {refund_id} {status}, debits {sum(debits.values())} cents{partial}")


async def _refunded_and_charged(session: AsyncSession, order: PaidOrder) -> tuple[int, int]:
    """(Σ succeeded refunds of the order, what its charge was) in one statement: the charge is the
    checkout's amount when known, else the order's total."""
    refunded = (select(func.coalesce(func.sum(StripeRefund.amount_cents), 0))
                .where(StripeRefund.order_id == order.order_id, StripeRefund.status == "succeeded").scalar_subquery())
    checkout = select(Checkout.amount_total_cents).where(Checkout.order_id == order.order_id).scalar_subquery()
    found = (await session.execute(select(refunded, checkout))).one()
    return int(found[0] or 0), int(found[1]) if found[1] else order.total_cents


def _rank(status: str) -> int:
    # pending/requires_action come first; succeeded, then possibly failed/canceled (terminal)
    return {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}.get(status, 0)
