"""What orders does with the payments service's facts: paid exactly once (O3), payouts into the
timeline and the reconciliation data (O4, A1, A2), refunds and disputes into the status (P7, P8, R5)
with downloads ending on the refunded lines (O6). Handlers re-read state and never trust arrival
order: a fact about an unknown order is logged and skipped; a repeated fact changes nothing."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import (
    LineDebit,
    PaymentCheckoutCompletedV1,
    PaymentDisputeUpdatedV1,
    PaymentRefundedV1,
    PayoutSkippedV1,
    PayoutTransferCreatedV1,
)
from homecraft_shared.money import format_cents
from orders import lifecycle
from orders.domain import EventType, Status
from orders.models import ObservedRefund, Order, SellerDebit, SellerPayout
from orders.placing import repository

logger = logging.getLogger(__name__)


async def _order(session: AsyncSession, order_id: str, fact: str) -> Order | None:
    order = await repository.by_id(session, order_id, for_update=True)
    if order is None:
        logger.warning("payments fact about an unknown order; skipped", extra={"order_id": order_id, "fact": fact})
    return order


async def checkout_completed(session: AsyncSession, data: PaymentCheckoutCompletedV1) -> Order | None:
    """Returns the order when this fact paid it (the caller queues the guest email), else None."""
    order = await _order(session, data.order_id, "checkout_completed")
    if order is None:
        return None
    if order.status != Status.PENDING:
        # Already paid (a second delivery of another Stripe event) or canceled: never pay twice,
        # never overwrite the recorded Stripe ids; a different payment is a warning for the operator.
        if order.stripe_payment_intent_id and order.stripe_payment_intent_id != data.payment_intent_id:
            lifecycle.append(session, order, EventType.WARNING,
                             f"Another completed checkout ({data.payment_intent_id}) for an order already "
                             f"{order.status} via {order.stripe_payment_intent_id}: refund it in Stripe.")
        elif order.status == Status.CANCELED:
            lifecycle.append(session, order, EventType.WARNING,
                             f"Payment {data.payment_intent_id} completed for a canceled order: refund it in Stripe.")
        elif order.stripe_charge_id is None and data.charge_id:
            order.stripe_charge_id = data.charge_id
        return None
    if data.amount_total_cents != order.total_cents or data.currency != order.currency:
        lifecycle.append(session, order, EventType.WARNING,
                         f"Stripe charged {format_cents(data.amount_total_cents, data.currency)} for an order of "
                         f"{format_cents(order.total_cents, order.currency)}.")
    await lifecycle.mark_paid(
        session, order, method="stripe", paid_at=data.completed_at, session_id=data.checkout_session_id,
        payment_intent_id=data.payment_intent_id, charge_id=data.charge_id, shipping=data.shipping,
        message=f"Marked paid via Stripe PI {data.payment_intent_id}",
    )
    return order


async def transfer_created(session: AsyncSession, data: PayoutTransferCreatedV1) -> None:
    order = await _order(session, data.order_id, "transfer_created")
    if order is None:
        return
    payout = await session.get(SellerPayout, (order.id, data.seller_id))
    if payout is not None and payout.transferred:
        return  # once per order and seller (P5)
    if payout is None:
        payout = SellerPayout(order_id=order.id, seller_id=data.seller_id)
        session.add(payout)
    payout.transferred = True
    payout.transfer_id = data.transfer_id
    payout.amount_cents = data.amount_cents
    payout.skip_reason = None
    payout.message = ""
    payout.seller_net_cents = data.seller_net_cents
    payout.balance_before_cents = data.balance_before_cents
    payout.at = data.created_at
    lifecycle.append(session, order, EventType.TRANSFER_CREATED,
                     f"Transfer {data.transfer_id} of {format_cents(data.amount_cents, data.currency)} "
                     f"to seller {data.seller_id}")
    await session.flush()
    await lifecycle.refresh_flags(session, order)


async def payout_skipped(session: AsyncSession, data: PayoutSkippedV1) -> None:
    order = await _order(session, data.order_id, "payout_skipped")
    if order is None:
        return
    payout = await session.get(SellerPayout, (order.id, data.seller_id))
    if payout is not None and (payout.transferred or payout.at >= data.skipped_at):
        return  # a transfer is never undone by a skip; an older skip changes nothing
    if payout is None:
        payout = SellerPayout(order_id=order.id, seller_id=data.seller_id)
        session.add(payout)
    payout.transferred = False
    payout.transfer_id = None
    payout.amount_cents = 0
    payout.skip_reason = data.reason
    payout.message = data.message
    payout.seller_net_cents = data.seller_net_cents
    payout.balance_before_cents = data.balance_before_cents
    payout.at = data.skipped_at
    lifecycle.append(session, order, EventType.WARNING, data.message)
    await session.flush()
    await lifecycle.refresh_flags(session, order)


def _record_debits(session: AsyncSession, order: Order, source_id: str, debits: list[LineDebit],
                   known: set[tuple[str, str]]) -> None:
    for debit in debits:
        if (source_id, debit.line_id) in known:
            continue
        session.add(SellerDebit(source_id=source_id, line_id=debit.line_id, order_id=order.id, seller_id=debit.seller_id,
                                debit_cents=debit.debit_cents, at=utcnow()))


async def _known_debits(session: AsyncSession, source_id: str) -> set[tuple[str, str]]:
    rows = await session.execute(select(SellerDebit.source_id, SellerDebit.line_id).where(SellerDebit.source_id == source_id))
    return {(s, line) for s, line in rows}


async def refunded(session: AsyncSession, data: PaymentRefundedV1) -> None:
    order = await _order(session, data.order_id, "payment_refunded")
    if order is None:
        return
    seen = await session.get(ObservedRefund, data.refund_id)
    counted_before = seen is not None and seen.status == "succeeded"
    if seen is None:
        seen = ObservedRefund(refund_id=data.refund_id, order_id=order.id, status=data.status,
                              amount_cents=data.amount_cents, observed_at=data.observed_at)
        session.add(seen)
    elif data.observed_at < seen.observed_at or counted_before:
        return  # an older observation, or this refund already counted: nothing changes (P7: once per refund)
    seen.status = data.status
    seen.amount_cents = data.amount_cents
    seen.observed_at = data.observed_at
    if data.status != "succeeded":
        lifecycle.append(session, order, EventType.WARNING,
                         f"Stripe refund {data.refund_id} of {format_cents(data.amount_cents, data.currency)} is {data.status}.")
        return
    order.refunded_cents += data.amount_cents
    _record_debits(session, order, data.refund_id, data.debits, await _known_debits(session, data.refund_id))
    now = utcnow()
    for line in order.lines:
        if line.id in data.line_ids and line.refunded_at is None:
            line.refunded_at = now  # O6: this line's downloads end
    amount = format_cents(data.amount_cents, data.currency)
    if data.fully_refunded and order.status == Status.PAID:
        await lifecycle.mark_refunded(session, order, cause="refund", at=data.observed_at,
                                      message=f"Refunded in full (Stripe refund {data.refund_id}, {amount})")
    else:
        lifecycle.append(session, order, EventType.WARNING,
                         f"Partial refund {data.refund_id} of {amount} (refunded so far: "
                         f"{format_cents(order.refunded_cents, order.currency)} of "
                         f"{format_cents(order.total_cents, order.currency)})")
        await session.flush()


async def dispute_updated(session: AsyncSession, data: PaymentDisputeUpdatedV1) -> None:
    order = await _order(session, data.order_id, "dispute_updated")
    if order is None:
        return
    amount = format_cents(data.amount_cents, data.currency)
    if data.phase == "closed" and data.status == "lost":
        _record_debits(session, order, data.dispute_id, data.chargeback_debits, await _known_debits(session, data.dispute_id))
        if order.status == Status.PAID:
            await lifecycle.mark_refunded(session, order, cause="chargeback", at=data.observed_at,
                                          message=f"Dispute {data.dispute_id} lost ({data.reason}, {amount}): charged back")
        return
    lifecycle.append(session, order, EventType.WARNING,
                     f"Dispute {data.dispute_id} {data.phase}: {data.status} ({data.reason}, {amount})")
