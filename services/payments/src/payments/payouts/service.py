"""Payouts on a paid order (P5), once per order and seller, and the operator's retry (P9).

In the caller's transaction: the order's SALE entries (+net per seller, whether ready or not), then per
seller the domain's decision (payout = max(0, balance), within what the charge can still fund). A
skip is recorded at once; a transfer is planned: a ``pending`` payout row with its amount and attempt,
which the transfer maker (``payouts.transfers``) makes at Stripe after this transaction commits, with an
idempotency key per order, seller and attempt, and then records (the PAYOUT entry, the fact for
orders). No Stripe call happens while this transaction holds its locks (decision 0316). Until it is
made, a planned amount is reserved: the seller's later plans count it as paid out.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.commit_signal import CommitSignal
from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PayoutSkippedV1
from homecraft_shared.messaging.outbox import record_event
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import Checkout, PaidOrder, Payout, SellerAccount, StripeRefund
from payments.paid_orders import repository as orders

# Raised by the commit of a transaction that planned transfers: this process's transfer makers run now.
TRANSFERS_PLANNED = CommitSignal("payments_transfers")

SKIP_REASONS = {
    domain.SkipReason.NOT_READY: "seller_not_ready",
    domain.SkipReason.NO_BALANCE: "balance_not_positive",
    domain.SkipReason.CHARGE_EXHAUSTED: "charge_exhausted",
}


def is_free(order: PaidOrder) -> bool:
    return order.payment_method == "free" or order.total_cents == 0


async def record_sales(session: AsyncSession, order: PaidOrder) -> None:
    """P5: +net per seller, once per order."""
    await ledger.record(session, domain.sales(order.order_id, await orders.domain_lines(session, order.order_id)))


async def fundable(session: AsyncSession, order: PaidOrder) -> int:
    """What the order's charge can still fund: charged - succeeded refunds - transfers already made from it."""
    if order.refunded_cause is not None:
        return 0
    checkout = await session.get(Checkout, order.order_id)
    charged = checkout.amount_total_cents if checkout is not None and checkout.amount_total_cents else order.total_cents
    refunded = await session.scalar(select(func.coalesce(func.sum(StripeRefund.amount_cents), 0)).where(
        StripeRefund.order_id == order.order_id, StripeRefund.status.in_(("succeeded", "pending"))))
    paid = await session.scalar(select(func.coalesce(func.sum(Payout.amount_cents), 0)).where(
        Payout.order_id == order.order_id, Payout.status.in_(("transferred", "pending"))))
    return max(0, charged - int(refunded or 0) - int(paid or 0))


async def reserved(session: AsyncSession, seller_ids: list[str]) -> dict[str, int]:
    """Per seller, the planned transfers not made yet: paid out as far as the next plan is concerned."""
    rows = await session.execute(select(Payout.seller_id, func.sum(Payout.amount_cents)).where(
        Payout.seller_id.in_(seller_ids), Payout.status == "pending").group_by(Payout.seller_id))
    return {seller: int(total) for seller, total in rows.all()}


async def pay_out(session: AsyncSession, order: PaidOrder) -> list[Payout]:
    """Decide the payout of every seller of the order with no transfer made or planned for it yet (first time,
    or an operator's retry): skipped, or a transfer planned for the maker."""
    if is_free(order):
        return []
    await ledger.lock_order(session, order.order_id)
    lines = await orders.domain_lines(session, order.order_id)
    nets = domain.net_by_seller(lines)
    existing = {p.seller_id: p for p in (await session.scalars(
        select(Payout).where(Payout.order_id == order.order_id))).all()}
    deciding = [s for s, net in nets.items() if net > 0 and (s not in existing or existing[s].status == "skipped")]
    if not deciding:
        return []
    # The balances' rows locked (PostgreSQL) before the reservations are read: a plan of another order for
    # these sellers commits before, or waits until this one did.
    balances = await ledger.lock_balances(session, deciding)
    held = await reserved(session, deciding)
    accounts = {a.seller_id: a for a in (await session.scalars(
        select(SellerAccount).where(SellerAccount.seller_id.in_(deciding)))).all()}
    ready = {s: bool(accounts.get(s) and accounts[s].ready) for s in deciding}
    plans = domain.plan_payouts(lines, balances_before={s: balances.get(s, 0) - held.get(s, 0) - nets[s] for s in deciding},
                                ready=ready, fundable_cents=await fundable(session, order), only_sellers=deciding)
    results = []
    for plan in plans:
        row = existing.get(plan.seller_id)
        if row is None:
            row = Payout(order_id=order.order_id, seller_id=plan.seller_id, status="skipped", attempts=0, amount_cents=0)
            session.add(row)
        row.attempts = (row.attempts or 0) + 1
        row.net_cents, row.balance_before_cents = plan.net_cents, plan.balance_before_cents + plan.net_cents
        if plan.transfers:
            row.status, row.skip_reason, row.amount_cents = "pending", None, plan.amount_cents
            row.transfer_asked_at = None
            TRANSFERS_PLANNED.flag(session)
        else:
            skip(session, order, row, SKIP_REASONS[plan.skip_reason or domain.SkipReason.NO_BALANCE], _skip_message(plan))
        results.append(row)
    return results


def skip(session: AsyncSession, order: PaidOrder, row: Payout, reason: str, message: str) -> None:
    """Record a payout decided (or refused by Stripe) as skipped, and the fact for orders."""
    row.status, row.skip_reason, row.amount_cents = "skipped", reason, 0
    record_event(session, PayoutSkippedV1(
        order_id=order.order_id, seller_id=row.seller_id, currency=order.currency, seller_net_cents=row.net_cents,
        balance_before_cents=row.balance_before_cents, reason=reason, message=message, skipped_at=utcnow(),
    ), subject_id=order.order_id)


def _skip_message(plan: domain.SellerPayout) -> str:
    balance = plan.balance_before_cents + plan.net_cents
    if plan.skip_reason is domain.SkipReason.NOT_READY:
        return f"transfer skipped seller={plan.seller_id} (not ready); {plan.net_cents} cents wait in the balance"
    if plan.skip_reason is domain.SkipReason.CHARGE_EXHAUSTED:
        return f"transfer skipped seller={plan.seller_id} (the charge can fund no more); balance={balance}"
    return f"transfer skipped seller={plan.seller_id} (balance={balance})"
