"""Stripe refunds as observed (P4 charge.refunded / refund.created / refund.updated) into the ledger (P7).

Each refund moves the ledger once (movement ``refund:<re_id>``), whichever path saw it first: this
webhook path or refund execution for a refund request (payments.refunds.execution). Debits happen
when the refund has succeeded; one that fails or is canceled after that is credited back once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.connections import Prepared, execute, session_connection
from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import LineDebit, PaymentRefundedV1
from homecraft_shared.messaging.outbox import stage_event
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


def order_keys(refund: dict[str, Any]) -> orders.OrderKeys:
    """The paid order a refund is about: our order id in its metadata, else its payment intent or charge."""
    return orders.OrderKeys(order_id=text((refund.get("metadata") or {}).get("order_id")) or None,
                            payment_intent_id=object_id(refund.get("payment_intent")) or None,
                            charge_id=object_id(refund.get("charge")) or None)


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
    keys = order_keys(refund)
    # Found and locked (PostgreSQL) in one round trip, or locked ahead with the transaction's other events' orders
    # (decision 0324): apply() need not lock it again.
    order = await orders.find_facts(session, keys, lock=True)
    if order is None:
        return Outcome.wait(orders.wait_key(keys) or refund_id, f"refund {refund_id}: its order is not known as paid yet")
    metadata = refund.get("metadata") or {}
    return await apply(session, order, refund_id=refund_id, status=status, amount_cents=cents(refund.get("amount")),
                       currency=text(refund.get("currency")).lower() or order.currency,
                       payment_intent_id=keys.payment_intent_id or order.payment_intent_id,
                       charge_id=keys.charge_id or order.charge_id,
                       line_ids=line_ids_of(refund), refund_request_id=text(metadata.get("refund_request_id")) or None,
                       observed_at=observed_at, order_locked=True)


_REFUNDS = cast(Table, StripeRefund.__table__)
_REFUND_COLUMNS = ("refund_id", "order_id", "amount_cents", "currency", "status", "line_ids", "refund_request_id",
                   "payment_intent_id", "charge_id", "published_status", "created_at", "updated_at")


def _refund_once(dialect: Any) -> Any:
    # ON CONFLICT on the refund id only: a clash on the refund request id still raises (execution relies on it).
    return (dialect.insert(_REFUNDS).values({column: bindparam(column) for column in _REFUND_COLUMNS})
            .on_conflict_do_nothing(index_elements=["refund_id"]).returning(_REFUNDS.c.refund_id))


# Built once (decision 0307): their cache keys are computed once, not per refund.
_REFUND_ONCE_SQLITE = _refund_once(sqlite)
_KNOWN_REFUND = select(_REFUNDS.c.status, _REFUNDS.c.amount_cents, _REFUNDS.c.currency, _REFUNDS.c.line_ids,
                       _REFUNDS.c.refund_request_id, _REFUNDS.c.published_status).where(
    _REFUNDS.c.refund_id == bindparam("refund_id"))
_UPDATE_REFUND = (update(_REFUNDS).where(_REFUNDS.c.refund_id == bindparam("key"))
                  .values(status=bindparam("status"), published_status=bindparam("published_status"),
                          updated_at=bindparam("updated_at")))
_CHECKOUTS = cast(Table, Checkout.__table__)
_OTHERS_SUCCEEDED = (select(func.coalesce(func.sum(_REFUNDS.c.amount_cents), 0))
                     .where(_REFUNDS.c.order_id == bindparam("order_id"), _REFUNDS.c.status == "succeeded",
                            _REFUNDS.c.refund_id != bindparam("refund_id")).scalar_subquery())
_CHARGED = select(_CHECKOUTS.c.amount_total_cents).where(_CHECKOUTS.c.order_id == bindparam("order_id")).scalar_subquery()
# Built once (decision 0307): the order's lines and earlier debits, with the order's OTHER succeeded refunds and
# what its checkout charged, in one statement. Every writer of an order's refunds holds the order's lock
# (``apply``), so "others + this one" is the order's refunded total without reading it again after the write.
_LINES_AND_REFUNDS = ledger.lines_and_debits_statement(_OTHERS_SUCCEEDED, _CHARGED)
# PostgreSQL: the refund's row (once) and that picture in ONE statement, the insert as a CTE, run straight on
# asyncpg (decision 0318); its first column is the refund id when the row is new. The picture reads only OTHER
# refunds, so it is the same whether it is read before or after the insert.
_NEW_REFUND = _refund_once(postgresql).cte("new_refund")
_REFUND_ONCE_AND_LINES = Prepared(ledger.lines_and_debits_statement(
    select(_NEW_REFUND.c.refund_id).scalar_subquery(), _OTHERS_SUCCEEDED, _CHARGED).add_cte(_NEW_REFUND))


async def apply(session: AsyncSession, order: orders.OrderMoney, *, refund_id: str, status: str, amount_cents: int,
                currency: str, payment_intent_id: str | None, charge_id: str | None, line_ids: list[str] | None,
                refund_request_id: str | None, observed_at: dt.datetime, order_locked: bool = False) -> Outcome:
    """Record what is known of one refund: its row, the ledger (once), the fact for orders and refunds.

    Core statements built once on the session's connection, no ORM objects (decision 0307), except the rare
    whole-order flag (``refunded_cause``), which goes through the ORM object as the disputes path does.
    ``order_locked``: the caller read the order with its row locked (``find_facts(lock=True)``)."""
    if not order_locked:
        await ledger.lock_order(session, order.order_id)
    connection = await session_connection(session)
    now = utcnow()
    joined_lines = ",".join(line_ids or [])
    # A new row's fact is always published: it is inserted with published_status = status.
    row = {"refund_id": refund_id, "order_id": order.order_id, "amount_cents": amount_cents, "currency": currency,
           "status": status, "line_ids": joined_lines, "refund_request_id": refund_request_id,
           "payment_intent_id": payment_intent_id, "charge_id": charge_id, "published_status": status,
           "created_at": now, "updated_at": now}
    if connection.dialect.name == "sqlite":
        new_row = (await execute(connection, _REFUND_ONCE_SQLITE, row)).scalar() is not None
        picture: Sequence[Sequence[Any]] = (await execute(connection, _LINES_AND_REFUNDS, row)).all()
    else:
        found = (await execute(connection, _REFUND_ONCE_AND_LINES, row)).all()
        new_row = found[0][0] is not None
        picture = [tuple(columns)[1:] for columns in found]
    if new_row:
        publish = True
        row_amount, row_currency, row_line_ids, row_request_id = amount_cents, currency, joined_lines, refund_request_id
    else:
        known = (await execute(connection, _KNOWN_REFUND, {"refund_id": refund_id})).one()
        known_status, row_amount, row_currency, row_line_ids, row_request_id, published_status = known
        newer = _rank(status) >= _rank(known_status)  # an older update arriving late does not undo a newer one
        status = status if newer else known_status
        publish = published_status != status
        if newer or publish:
            await execute(connection, _UPDATE_REFUND, {"key": refund_id, "status": status, "updated_at": now,
                                                       "published_status": status if publish else published_status})
    lines, debited = ledger.lines_and_debits_of(picture, leading=2)
    debits: dict[str, int] = {}
    if status == "succeeded":
        movement = domain.refund(order.order_id, lines, refund_id, amount_cents=row_amount, debited=debited,
                                 line_ids=row_line_ids.split(",") if row_line_ids else None)
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
    refunded_total = int(picture[0][0]) + (row_amount if status == "succeeded" else 0)
    charged = int(picture[0][1]) if picture[0][1] else order.total_cents
    fully = charged > 0 and refunded_total >= charged
    if fully and order.refunded_cause is None:
        paid = await session.get(PaidOrder, order.order_id)
        assert paid is not None
        if paid.refunded_cause is None:
            paid.refunded_cause = "refund"
    if publish:
        sellers = {line.line_id: line.seller_id for line in lines}
        await stage_event(session, PaymentRefundedV1(
            order_id=order.order_id, refund_id=refund_id, payment_intent_id=payment_intent_id or "",
            charge_id=charge_id, status=status, amount_cents=row_amount, currency=row_currency,
            line_ids=row_line_ids.split(",") if row_line_ids else [], refund_request_id=row_request_id,
            debits=[LineDebit(line_id=k, seller_id=sellers[k], debit_cents=v) for k, v in debits.items() if k in sellers],
            refunded_total_cents=refunded_total, charged_total_cents=charged, fully_refunded=fully,
            observed_at=observed_at,
        ), subject_id=order.order_id)
    partial = "" if fully else f" (partial: {refunded_total} of {charged} cents refunded)"
    return Outcome.done(f"refund {refund_id} {status}, debits {sum(debits.values())} cents{partial}")


def _rank(status: str) -> int:
    # pending/requires_action come first; succeeded, then possibly failed/canceled (terminal)
    return {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}.get(status, 0)
