"""Disputes (P8): created/updated are warnings; closed as lost is a chargeback of what is left of every
line's net (once per dispute) and the order refunded; other outcomes are warnings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.events.payments import LineDebit, PaymentDisputeUpdatedV1
from homecraft_shared.messaging.outbox import record_event
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import Dispute
from payments.paid_orders import repository as orders
from payments.stripe_objects import cents, object_id, text
from payments.webhooks.processing import Outcome, StripeFact

DISPUTE_STATUSES = ("warning_needs_response", "warning_under_review", "warning_closed", "needs_response",
                    "under_review", "won", "lost")


async def on_dispute(session: AsyncSession, fact: StripeFact) -> Outcome:
    obj = fact.object
    dispute_id = text(obj.get("id"))
    status = text(obj.get("status"))
    if not dispute_id or status not in DISPUTE_STATUSES:
        raise ValueError(f"dispute {dispute_id or '?'} has an unknown status {status!r}")
    charge_id = object_id(obj.get("charge"))
    payment_intent_id = object_id(obj.get("payment_intent")) or None
    order = await orders.find(session, order_id=text((obj.get("metadata") or {}).get("order_id")) or None,
                              payment_intent_id=payment_intent_id, charge_id=charge_id or None)
    if order is None:
        key = orders.wait_key(orders.OrderKeys(None, payment_intent_id, charge_id or None))
        return Outcome.wait(key or dispute_id, f"dispute {dispute_id}: its order is not known as paid yet")
    await ledger.lock_order(session, order.order_id)
    phase = fact.type.rsplit(".", 1)[-1]  # created | updated | closed
    amount = cents(obj.get("amount"))
    currency = text(obj.get("currency")).lower() or order.currency
    row = await session.get(Dispute, dispute_id)
    if row is None:
        row = Dispute(dispute_id=dispute_id, order_id=order.order_id, charge_id=charge_id, status=status,
                      reason=text(obj.get("reason")), amount_cents=amount, currency=currency, stripe_as_of=fact.created)
        session.add(row)
    elif fact.created >= row.stripe_as_of and row.status not in ("won", "lost"):
        row.status, row.stripe_as_of = status, fact.created  # an older update arriving late is not applied
    debits: list[LineDebit] = []
    if phase == "closed" and status == "lost":
        lines, debited = await ledger.lines_and_debits(session, order.order_id)
        movement = domain.chargeback(order.order_id, lines, dispute_id, debited)
        if await ledger.record(session, movement):
            debits = [LineDebit(line_id=e.line_id or "", seller_id=e.seller_id, debit_cents=-e.amount_cents)
                      for e in movement.entries]
        order.refunded_cause = order.refunded_cause or "chargeback"
    record_event(session, PaymentDisputeUpdatedV1(
        order_id=order.order_id, dispute_id=dispute_id, charge_id=charge_id, payment_intent_id=payment_intent_id,
        phase=phase, status=status, reason=text(obj.get("reason")), amount_cents=amount, currency=currency,
        chargeback_debits=debits, observed_at=fact.created), subject_id=order.order_id)
    charged = f", chargeback {sum(d.debit_cents for d in debits)} cents" if debits else ""
    return Outcome.done(f"dispute {dispute_id} {phase}: {status}{charged}")
