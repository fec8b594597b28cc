"""The seller's view of the ledger (P9) and of each order's payout (per-order transparency)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.errors import NotFound
from payments.adjustments import service as adjustments
from payments.connect import service as connect
from payments.ledger import repository
from payments.ledger.domain import Reason
from payments.ledger.schemas import EntryOut, OrderPayout, SellerPayouts, TransferOut
from payments.models import LedgerEntry, PaidOrder, PaidOrderLine, Payout
from payments.paid_orders import repository as orders
from payments.payouts.service import is_free

PAGE_SIZE = 50


def entry_out(entry: LedgerEntry) -> EntryOut:
    return EntryOut.model_validate(entry, from_attributes=True)


async def seller_payouts(session: AsyncSession, seller_id: str, *, reason: str | None, text: str | None,
                         page: int) -> SellerPayouts:
    entries, total = await repository.seller_entries(session, seller_id, reason=reason, text=text,
                                                     offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    balance = await repository.balance(session, seller_id)
    return SellerPayouts(seller_id=seller_id, balance_cents=balance, payout_available_cents=max(0, balance),
                         adjusted_cents=await adjustments.adjusted_total(session, seller_id),
                         connect=await connect.status(session, seller_id), entries=[entry_out(e) for e in entries], total=total, page=page,
                         page_size=PAGE_SIZE)


async def order_payout(session: AsyncSession, seller_id: str, order_id: str) -> OrderPayout:
    """Another seller's order, or an order not paid: 404 (no hint that it exists)."""
    order = await orders.get(session, order_id)
    lines = [line for line in await orders.lines(session, order_id) if line.seller_id == seller_id] if order else []
    if order is None or not lines:
        raise NotFound(f"No paid order {order_id} with your items.")
    return await _order_payout(session, seller_id, order, lines)


async def order_payouts(session: AsyncSession, seller_id: str, *, page: int, page_size: int) -> list[OrderPayout]:
    out = []
    for order_id in await orders.seller_orders(session, seller_id, offset=(page - 1) * page_size, limit=page_size):
        out.append(await order_payout(session, seller_id, order_id))
    return out


async def _order_payout(session: AsyncSession, seller_id: str, order: PaidOrder,
                        lines: list[PaidOrderLine]) -> OrderPayout:
    gross = sum(line.gross_cents for line in lines)
    fee = sum(line.fee_cents for line in lines)
    net = sum(line.net_cents for line in lines)
    payout = await session.get(Payout, (order.order_id, seller_id))
    entries = await repository.order_entries(session, order.order_id, seller_id)
    debits = [e for e in entries if e.reason in (Reason.REFUND, Reason.CHARGEBACK, Reason.ADJUSTMENT) and e.line_id]
    debited = -sum(e.amount_cents for e in debits)
    transfer = None
    if is_free(order):
        status, explanation = "free", "A free order: nothing to pay out."
    elif payout is None:
        status, explanation = "pending", "The payout is being prepared."
    elif payout.status == "pending":
        status = "pending"
        explanation = f"A transfer of {payout.amount_cents} cents to your Stripe account is on its way."
    elif payout.status == "transferred":
        status = "transferred"
        transfer = TransferOut(transfer_id=payout.transfer_id or "", amount_cents=payout.amount_cents,
                               at=payout.transferred_at, source_charge_id=payout.source_charge_id)
        explanation = f"Transferred {payout.amount_cents} cents to your Stripe account."
        if payout.amount_cents < payout.balance_before_cents:
            explanation += " The rest waits in your balance for your next payout."
        elif payout.amount_cents > net:
            explanation += " It includes earlier earnings that were waiting in your balance."
    else:
        status = "skipped"
        explanation = {
            "seller_not_ready": "Not transferred yet: finish payout onboarding; your earnings wait in your balance and "
                                "are paid with your next payout.",
            "balance_not_positive": "Nothing transferred: your balance (after earlier refunds or chargebacks) was not "
                                    "positive.",
            "charge_exhausted": "Not transferred: this order's payment can fund no more; the amount waits in your "
                                "balance.",
            "transfer_failed": "Stripe refused the transfer; an operator can retry it.",
        }.get(payout.skip_reason or "", "Not transferred.")
    if debited:
        explanation += f" Later refunds or chargebacks debited {debited} cents."
    return OrderPayout(
        order_id=order.order_id, paid_at=order.paid_at, currency=order.currency, gross_cents=gross,
        marketplace_fee_cents=fee, net_cents=net, status=status, transfer=transfer,
        skip_reason=payout.skip_reason if payout else None,
        balance_before_cents=payout.balance_before_cents if payout else None,
        debits=[entry_out(e) for e in debits], debited_cents=debited, explanation=explanation)


async def ledger_totals(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
    """(Σ entries per seller, stored balance per seller), from one snapshot: equal at every moment (P6)."""
    both = await repository.balances_against_entries(session)
    return ({seller: total for seller, (_, total) in both.items()},
            {seller: stored for seller, (stored, _) in both.items()})
