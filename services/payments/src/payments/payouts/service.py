"""Payouts on a paid order (P5), once per order and seller, and the operator's retry (P9).

In one transaction: the order's SALE entries (+net per seller, whether ready or not), then per seller
the domain's decision (payout = max(0, balance), within what the charge can still fund), a Stripe
Transfer with an idempotency key per order, seller and attempt, the PAYOUT entry and the fact for
orders. If anything fails before the commit, the retry asks Stripe again with the same key and gets
the same transfer back: no transfer is ever made twice and none is lost.
"""

from __future__ import annotations

import stripe as stripe_lib
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PayoutSkippedV1, PayoutTransferCreatedV1
from homecraft_shared.messaging.outbox import record_event
from payments.deps import deps
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import Checkout, PaidOrder, Payout, SellerAccount, StripeRefund
from payments.paid_orders import repository as orders
from payments.stripe_gateway import idempotency

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
    transferred = await session.scalar(select(func.coalesce(func.sum(Payout.amount_cents), 0)).where(
        Payout.order_id == order.order_id, Payout.status == "transferred"))
    return max(0, charged - int(refunded or 0) - int(transferred or 0))


async def pay_out(session: AsyncSession, order: PaidOrder) -> list[Payout]:
    """Pay every seller of the order who has no transfer for it yet (first time, or an operator's retry)."""
    if is_free(order):
        return []
    await ledger.lock_order(session, order.order_id)
    lines = await orders.domain_lines(session, order.order_id)
    nets = domain.net_by_seller(lines)
    existing = {p.seller_id: p for p in (await session.scalars(
        select(Payout).where(Payout.order_id == order.order_id))).all()}
    pending = [s for s, net in nets.items() if net > 0 and (s not in existing or existing[s].status != "transferred")]
    if not pending:
        return []
    balances = await ledger.lock_balances(session, pending)
    accounts = {a.seller_id: a for a in (await session.scalars(
        select(SellerAccount).where(SellerAccount.seller_id.in_(pending)))).all()}
    ready = {s: bool(accounts.get(s) and accounts[s].ready) for s in pending}
    plans = domain.plan_payouts(lines, balances_before={s: balances.get(s, 0) - nets[s] for s in pending}, ready=ready,
                                fundable_cents=await fundable(session, order), only_sellers=pending)
    results = []
    for plan in plans:
        row = existing.get(plan.seller_id)
        if row is None:
            row = Payout(order_id=order.order_id, seller_id=plan.seller_id, status="skipped", attempts=0, amount_cents=0)
            session.add(row)
        row.attempts = (row.attempts or 0) + 1
        row.net_cents, row.balance_before_cents = plan.net_cents, plan.balance_before_cents + plan.net_cents
        if plan.transfers:
            await _transfer(session, order, row, plan, accounts[plan.seller_id])
        else:
            _skip(session, order, row, SKIP_REASONS[plan.skip_reason or domain.SkipReason.NO_BALANCE],
                  _skip_message(plan))
        results.append(row)
    return results


async def _transfer(session: AsyncSession, order: PaidOrder, row: Payout, plan: domain.SellerPayout,
                    account: SellerAccount) -> None:
    charge_id = order.charge_id
    if not charge_id:
        checkout = await session.get(Checkout, order.order_id)
        charge_id = checkout.charge_id if checkout is not None else None
    params = {
        "amount": plan.amount_cents, "currency": order.currency, "destination": account.stripe_account_id,
        "transfer_group": order.order_id,
        "metadata": {"order_id": order.order_id, "seller_id": plan.seller_id, "net_cents": str(plan.net_cents),
                     "seller_balance_before": str(plan.balance_before_cents)},
    }
    if charge_id:
        params["source_transaction"] = charge_id
    try:
        transfer = await deps(session).stripe.v1.transfers.create_async(
            params, idempotency(f"transfer:{order.order_id}:{plan.seller_id}:{row.attempts}"))
    except stripe_lib.InvalidRequestError as exc:  # Stripe refused it (e.g. the charge cannot fund it)
        _skip(session, order, row, "transfer_failed", f"transfer to seller {plan.seller_id} refused by Stripe: "
                                                       f"{exc.user_message or exc}")
        return
    await ledger.record(session, domain.payout(order.order_id, plan.seller_id, plan.amount_cents, transfer.id))
    now = utcnow()
    row.status, row.skip_reason, row.amount_cents = "transferred", None, plan.amount_cents
    row.transfer_id, row.source_charge_id, row.transferred_at = transfer.id, charge_id, now
    record_event(session, PayoutTransferCreatedV1(
        order_id=order.order_id, seller_id=plan.seller_id, currency=order.currency, seller_net_cents=plan.net_cents,
        balance_before_cents=row.balance_before_cents, transfer_id=transfer.id, amount_cents=plan.amount_cents,
        source_charge_id=charge_id, created_at=now), subject_id=order.order_id)


def _skip(session: AsyncSession, order: PaidOrder, row: Payout, reason: str, message: str) -> None:
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
