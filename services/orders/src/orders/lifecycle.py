"""The lifecycle as persisted: transitions (O3), the timeline (O4), the events others react to, and
the stored reconciliation flags (A1). Used by the endpoints and the event handlers; never commits."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict
from homecraft_shared.events.orders import OrderCanceledV1, OrderLineRef, OrderLineSnapshot, OrderPaidV1, OrderRefundedV1
from homecraft_shared.events.payments import ShippingDetails
from homecraft_shared.messaging.outbox import record_event
from orders import domain
from orders.domain import EventType, Status
from orders.models import Order, OrderEvent, SellerPayout


def entry_row(order_id: str, type_: EventType, message: str = "", *, actor: str = "",
              at: dt.datetime | None = None) -> dict[str, Any]:
    """A timeline entry's columns (O4): for ``entry``, and as a plain row for a placement (decision 0205)."""
    return {"order_id": order_id, "type": type_.value, "message": message, "actor": actor[:80],
            "created_at": at or utcnow()}


def entry(order: Order, type_: EventType, message: str = "", *, actor: str = "") -> OrderEvent:
    """A timeline entry for ``order`` (O4), not yet added."""
    return OrderEvent(**entry_row(order.id, type_, message, actor=actor))


def append(session: AsyncSession, order: Order, type_: EventType, message: str = "", *, actor: str = "") -> None:
    """O4: every change appends an entry to the order's timeline."""
    session.add(entry(order, type_, message, actor=actor))


def transition(order: Order, target: Status) -> None:
    try:
        domain.ensure_transition(Status(order.status), target)
    except domain.IllegalTransition as exc:
        raise Conflict(f"This order is {order.status}; it cannot become {target.value} (O3).") from exc
    order.status = target.value
    order.updated_at = utcnow()


async def mark_paid(
    session: AsyncSession,
    order: Order,
    *,
    method: str,
    paid_at: dt.datetime,
    session_id: str | None = None,
    payment_intent_id: str | None = None,
    charge_id: str | None = None,
    shipping: ShippingDetails | None = None,
    message: str,
) -> None:
    """O3: pending → paid once; paid_at set once; Stripe ids recorded, never overwritten. Publishes
    ``order.paid`` in the same transaction (outbox)."""
    transition(order, Status.PAID)
    order.payment_method = method
    order.paid_at = order.paid_at or paid_at
    order.stripe_session_id = order.stripe_session_id or session_id
    order.stripe_payment_intent_id = order.stripe_payment_intent_id or payment_intent_id
    order.stripe_charge_id = order.stripe_charge_id or charge_id
    if shipping is not None and order.shipping is None:
        order.shipping = shipping.model_dump()
    append(session, order, EventType.PAID, message)
    await refresh_flags(session, order)
    record_event(session, paid_event(order), subject_id=order.id)


def paid_event(order: Order) -> OrderPaidV1:
    assert order.paid_at is not None
    return OrderPaidV1(
        order_id=order.id, buyer_id=order.buyer_id, guest_email=order.guest_email, currency=order.currency,
        subtotal_cents=order.subtotal_cents, tax_cents=order.tax_cents, shipping_cents=order.shipping_cents,
        total_cents=order.total_cents, marketplace_percent=Decimal(order.marketplace_percent), kind=order.kind,
        payment_method="free" if order.payment_method == "free" else "stripe",
        checkout_session_id=order.stripe_session_id, payment_intent_id=order.stripe_payment_intent_id,
        charge_id=order.stripe_charge_id,
        shipping=ShippingDetails.model_validate(order.shipping) if order.shipping else None,
        placed_at=order.created_at, paid_at=order.paid_at,
        lines=[
            OrderLineSnapshot(
                line_id=line.id, product_id=line.product_id, seller_id=line.seller_id, title=line.title,
                kind=line.kind, is_digital=line.is_digital, requires_shipping=line.requires_shipping,
                quantity=line.quantity, unit_price_cents=line.unit_price_cents, gross_cents=line.gross_cents,
                fee_cents=line.fee_cents, net_cents=line.net_cents,
            )
            for line in order.lines
        ],
    )


def line_refs(order: Order) -> list[OrderLineRef]:
    return [OrderLineRef(line_id=line.id, product_id=line.product_id, seller_id=line.seller_id) for line in order.lines]


async def cancel(session: AsyncSession, order: Order, *, reason: str, actor: str) -> None:
    transition(order, Status.CANCELED)
    order.canceled_at = utcnow()
    append(session, order, EventType.CANCELED, reason, actor=actor)
    await refresh_flags(session, order)
    record_event(session, OrderCanceledV1(order_id=order.id, buyer_id=order.buyer_id, reason=reason,
                                          lines=line_refs(order), canceled_at=order.canceled_at), subject_id=order.id)


async def mark_refunded(session: AsyncSession, order: Order, *, cause: Literal["refund", "chargeback"], message: str,
                        at: dt.datetime) -> None:
    """O3: paid → refunded (a full refund, P7/R5, or a lost dispute, P8); every line's downloads end (O6)."""
    transition(order, Status.REFUNDED)
    order.refunded_at = at
    for line in order.lines:
        line.refunded_at = line.refunded_at or at
    append(session, order, EventType.REFUNDED, message)
    await refresh_flags(session, order)
    record_event(session, OrderRefundedV1(
        order_id=order.id, buyer_id=order.buyer_id, cause=cause,
        refunded_cents=order.refunded_cents if cause == "refund" else order.total_cents,
        currency=order.currency, lines=line_refs(order), refunded_at=at), subject_id=order.id)


async def refresh_flags(session: AsyncSession, order: Order, *, new: bool = False) -> None:
    """A1: recompute the stored flags from the order's snapshot and the payout facts it consumed."""
    payouts = [] if new else list(await session.scalars(select(SellerPayout).where(SellerPayout.order_id == order.id)))
    _set_flags(order, payouts)


def new_order_flags(money: domain.OrderMoney) -> dict[str, Any]:
    """A1's stored columns for an order being placed (pending, no payout facts yet): no database read and
    no ORM object, for the placement's plain row (decision 0205)."""
    return _flag_columns(domain.reconcile(
        paid=False, free=False, percent=money.percent, subtotal_cents=money.subtotal_cents, has_stripe_ids=False,
        lines=[domain.LineFacts(m.seller_id, m.gross_cents, m.fee_cents, m.net_cents) for m in money.lines],
        payouts=[],
    ), has_shipping=any(m.requires_shipping for m in money.lines), has_digital=any(m.is_digital for m in money.lines))


def _flag_columns(flags: domain.Flags, *, has_shipping: bool, has_digital: bool) -> dict[str, Any]:
    return {
        "has_shipping": has_shipping, "has_digital": has_digital,
        "flag_totals_mismatch": flags.totals_mismatch, "flag_ledger_mismatch": flags.ledger_mismatch,
        "flag_missing_stripe_ids": flags.missing_stripe_ids, "flag_no_transfer": flags.no_transfer,
        "flag_skipped_unready": flags.skipped_unready, "payout_state": flags.payout_state.value,
    }


def _set_flags(order: Order, payouts: list[SellerPayout]) -> None:
    flags = domain.reconcile(
        paid=order.status in (Status.PAID, Status.REFUNDED) and order.paid_at is not None,
        free=order.payment_method == "free",
        percent=Decimal(order.marketplace_percent),
        subtotal_cents=order.subtotal_cents,
        has_stripe_ids=bool(order.stripe_session_id and order.stripe_payment_intent_id),
        lines=[domain.LineFacts(line.seller_id, line.gross_cents, line.fee_cents, line.net_cents) for line in order.lines],
        payouts=[domain.PayoutFacts(p.seller_id, p.transferred, p.skip_reason) for p in payouts],
    )
    columns = _flag_columns(flags, has_shipping=any(line.requires_shipping for line in order.lines),
                            has_digital=any(line.is_digital for line in order.lines))
    for name, value in columns.items():
        setattr(order, name, value)
