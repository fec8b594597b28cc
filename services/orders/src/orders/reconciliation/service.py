"""A1 and A2 for the operator console, from orders' own data and the payout facts it consumed.

The flags are stored on the order (``orders.lifecycle.refresh_flags``, recomputed on every change),
so the list is an indexed, paginated query, never a computation per order per request.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from homecraft_shared.errors import NotFound
from homecraft_shared.inputs import Page
from orders.models import Order, OrderLine, SellerDebit, SellerPayout
from orders.reconciliation.schemas import (
    BuyerType,
    Flag,
    ItemMix,
    OrderPayouts,
    PayoutStateFilter,
    ReconPage,
    ReconRow,
    SellerPayoutSummary,
)

FLAG_COLUMNS: dict[str, InstrumentedAttribute[bool]] = {
    "totals_mismatch": Order.flag_totals_mismatch,
    "ledger_mismatch": Order.flag_ledger_mismatch,
    "missing_stripe_ids": Order.flag_missing_stripe_ids,
    "no_transfer": Order.flag_no_transfer,
    "skipped_unready": Order.flag_skipped_unready,
}


def _flags(order: Order) -> list[Flag]:
    return [name for name in FLAG_COLUMNS if getattr(order, f"flag_{name}")]  # type: ignore[misc]


async def orders_page(
    session: AsyncSession, *, paid: bool | None, buyer_type: BuyerType | None, mix: ItemMix | None,
    payout_state: PayoutStateFilter | None, flags: list[Flag], window: Page,
) -> ReconPage:
    conditions: list[ColumnElement[bool]] = []
    if paid is not None:
        conditions.append(Order.paid_at.is_not(None) if paid else Order.paid_at.is_(None))
    if buyer_type is not None:
        conditions.append(Order.buyer_id.is_not(None) if buyer_type == "user" else Order.buyer_id.is_(None))
    if mix == "shipping":
        conditions.append(Order.has_shipping.is_(True))
    elif mix == "digital":
        conditions.append(Order.has_digital.is_(True))
    elif mix == "physical_only":
        conditions.append(Order.kind == "physical")
    elif mix == "digital_only":
        conditions.append(Order.kind == "digital")
    if payout_state is not None:
        conditions.append(Order.payout_state == payout_state)
    for flag in flags:
        conditions.append(FLAG_COLUMNS[flag].is_(True))
    rows = list(await session.scalars(
        select(Order).where(*conditions).order_by(Order.created_at.desc(), Order.id.desc())
        .offset(window.offset).limit(window.limit + 1)
        .execution_options(populate_existing=False)
    ))
    has_more = len(rows) > window.limit
    items = [ReconRow(id=o.id, status=o.status, kind=o.kind, buyer_id=o.buyer_id, guest_email=o.guest_email,
                      total_cents=o.total_cents, subtotal_cents=o.subtotal_cents, currency=o.currency,
                      created_at=o.created_at, paid_at=o.paid_at, payment_method=o.payment_method,
                      payout_state=o.payout_state, flags=_flags(o)) for o in rows[:window.limit]]
    return ReconPage(items=items, page=window.page, page_size=window.page_size, has_more=has_more)


async def order_payouts(session: AsyncSession, order_id: str) -> OrderPayouts:
    if await session.get(Order, order_id) is None:
        raise NotFound("No such order.")
    money: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for seller_id, gross, net in await session.execute(
        select(OrderLine.seller_id, func.sum(OrderLine.gross_cents), func.sum(OrderLine.net_cents))
        .where(OrderLine.order_id == order_id).group_by(OrderLine.seller_id)
    ):
        money[seller_id] = [int(gross), int(net)]
    payouts = {p.seller_id: p for p in await session.scalars(select(SellerPayout).where(SellerPayout.order_id == order_id))}
    debits: dict[str, int] = dict((await session.execute(
        select(SellerDebit.seller_id, func.sum(SellerDebit.debit_cents)).where(SellerDebit.order_id == order_id)
        .group_by(SellerDebit.seller_id))).all())
    sellers = []
    for seller_id in sorted(money):
        gross, net = money[seller_id]
        payout = payouts.get(seller_id)
        if payout is None:
            reason = "nothing owed (net 0)" if net == 0 else "no payout fact yet (pending)"
        elif payout.transferred:
            reason = None
        else:
            reason = f"{payout.skip_reason}: {payout.message}"
        sellers.append(SellerPayoutSummary(
            seller_id=seller_id,
            connect_ready=None if payout is None else payout.skip_reason != "seller_not_ready",
            gross_cents=gross, net_cents=net,
            balance_before_cents=None if payout is None else payout.balance_before_cents,
            payout_cents=payout.amount_cents if payout is not None and payout.transferred else 0,
            transfer_id=payout.transfer_id if payout is not None else None,
            no_payout_reason=reason, debits_since_cents=int(debits.get(seller_id, 0)),
        ))
    return OrderPayouts(order_id=order_id, sellers=sellers)
