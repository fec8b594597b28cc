"""Making the Stripe Transfers that payouts planned (P5, P9), after the plan committed (decision 0316).

A payout decision (``service.pay_out``) writes a ``pending`` payout row in the caller's transaction and
no Stripe call happens there: a call of up to a minute (Stripe slow, the library's retries) would hold
the order's and the sellers' rows locked (PostgreSQL) or the whole database's write lock (SQLite) that
long. The transfer maker, a loop of each process, woken by the commit of a plan and polling besides:

1. reads a pending row in a short read (the session is closed before the call);
2. asks Stripe for the transfer with the row's idempotency key (order, seller, attempt): a second maker
   (another replica, a retry after a crash) gets the same transfer back, never a second one. The first
   try of an attempt is written down before it asks; a later try first looks for the transfer the first
   may have made (its answer lost), since Stripe forgets idempotency keys after 24 hours;
3. records the result in a new transaction: the PAYOUT entry and the fact, or the refusal
   (``transfer_failed``), only if the row is still that pending attempt (the order's row locked).

A failure that is not Stripe's refusal (network, Stripe's 5xx, a lost database) leaves the row pending
for the next pass. Until then the planned amount is reserved: later plans count it as paid (``service``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial
from typing import Any

import stripe as stripe_lib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from homecraft_shared.background import run_passes
from homecraft_shared.db import utcnow
from homecraft_shared.events.payments import PayoutTransferCreatedV1
from homecraft_shared.messaging.outbox import record_event
from payments.deps import deps
from payments.ledger import domain
from payments.ledger import repository as ledger
from payments.models import Checkout, PaidOrder, Payout, SellerAccount
from payments.payouts.service import TRANSFERS_PLANNED, skip
from payments.stripe_gateway import StripeGateway, idempotency
from payments.stripe_objects import collect

logger = logging.getLogger(__name__)


async def make_planned(sessionmaker: async_sessionmaker[AsyncSession], *, limit: int = 50, at_once: int = 8) -> int:
    """Make the pending transfers (oldest first, up to ``limit``), ``at_once`` Stripe calls at a time (one
    after another, calls of a few hundred ms each would cap payouts at a few a second); how many were
    settled (made or refused)."""
    async with sessionmaker() as session:
        keys = (await session.execute(select(Payout.order_id, Payout.seller_id).where(Payout.status == "pending")
                                      .order_by(Payout.created_at).limit(limit))).all()
    gate = asyncio.Semaphore(at_once)

    async def make(order_id: str, seller_id: str) -> bool:
        async with gate:
            return await make_one(sessionmaker, order_id, seller_id)

    settled = 0
    for (order_id, seller_id), outcome in zip(keys, await asyncio.gather(
            *(make(order_id, seller_id) for order_id, seller_id in keys), return_exceptions=True), strict=True):
        if isinstance(outcome, BaseException):  # e.g. the database busy while recording: it stays pending
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            logger.warning("a planned transfer could not be recorded; it stays pending", extra={
                "order_id": order_id, "seller_id": seller_id, "error": repr(outcome)})
        else:
            settled += outcome
    return settled


async def make_one(sessionmaker: async_sessionmaker[AsyncSession], order_id: str, seller_id: str) -> bool:
    """Make one pending payout's transfer and record it; False when it is not pending (any more) or Stripe
    could not be reached (it stays pending). Its short transactions are opened and committed here, none
    while Stripe is asked."""
    async with sessionmaker() as session:
        planned = await _read_planned(session, order_id, seller_id)
    if planned is None:
        return False
    if not planned.asked_before:
        async with sessionmaker() as session:
            noted = await _note_asked(session, planned)
            await session.commit()
        if not noted:
            return False
    answer = await _ask_stripe(planned)
    if answer is None:
        return False
    async with sessionmaker() as session:
        recorded = await _record(session, planned, answer)
        if recorded:
            await session.commit()
    return recorded


@dataclass(frozen=True)
class _Planned:
    """A pending payout's transfer as read before Stripe is asked for it."""

    order_id: str
    seller_id: str
    attempt: int
    amount_cents: int
    asked_before: bool
    charge_id: str | None
    params: dict[str, Any]
    stripe: StripeGateway


@dataclass(frozen=True)
class _Refused:
    """Stripe refused the transfer (e.g. the charge cannot fund it)."""

    reason: str


async def _read_planned(session: AsyncSession, order_id: str, seller_id: str) -> _Planned | None:
    """The payout's transfer to ask for; None when it is not pending or its seller has no Stripe account."""
    row = await session.get(Payout, (order_id, seller_id))
    order = await session.get(PaidOrder, order_id)
    account = await session.get(SellerAccount, seller_id)
    if row is None or row.status != "pending" or order is None or account is None or not account.stripe_account_id:
        return None
    charge_id = order.charge_id
    if not charge_id:
        checkout = await session.get(Checkout, order_id)
        charge_id = checkout.charge_id if checkout is not None else None
    params: dict[str, Any] = {
        "amount": row.amount_cents, "currency": order.currency, "destination": account.stripe_account_id,
        "transfer_group": order_id,
        "metadata": {"order_id": order_id, "seller_id": seller_id, "attempt": str(row.attempts),
                     "net_cents": str(row.net_cents), "seller_balance_before": str(row.balance_before_cents)},
    }
    if charge_id:
        params["source_transaction"] = charge_id
    return _Planned(order_id, seller_id, row.attempts, row.amount_cents, row.transfer_asked_at is not None, charge_id,
                    params, deps(session).stripe)


async def _note_asked(session: AsyncSession, planned: _Planned) -> bool:
    """Write down that this attempt is about to be asked of Stripe; False when the row moved on meanwhile
    (another maker recorded it)."""
    noted = await session.execute(update(Payout).where(
        Payout.order_id == planned.order_id, Payout.seller_id == planned.seller_id, Payout.status == "pending",
        Payout.attempts == planned.attempt).values(transfer_asked_at=utcnow()))
    return bool(getattr(noted, "rowcount", 0))


async def _ask_stripe(planned: _Planned) -> str | _Refused | None:
    """The transfer Stripe made (or an earlier try of this attempt made), or its refusal; None when Stripe
    could not be reached."""
    order_id, seller_id, attempt = planned.order_id, planned.seller_id, planned.attempt
    try:
        transfer_id = await _made_before(planned.stripe, order_id, seller_id, attempt) if planned.asked_before else None
        if transfer_id is None:
            transfer_id = (await planned.stripe.v1.transfers.create_async(
                planned.params, idempotency(f"transfer:{order_id}:{seller_id}:{attempt}"))).id
    except stripe_lib.InvalidRequestError as exc:  # Stripe refused it (e.g. the charge cannot fund it)
        return _Refused(f"transfer to seller {seller_id} refused by Stripe: {exc.user_message or exc}")
    except stripe_lib.StripeError as exc:
        logger.warning("a planned transfer could not be made; it stays pending", extra={
            "order_id": order_id, "seller_id": seller_id, "error": repr(exc)})
        return None
    return transfer_id


async def _record(session: AsyncSession, planned: _Planned, answer: str | _Refused) -> bool:
    """Record Stripe's answer (the transfer id or its refusal), the order's row locked, if the row is still
    that pending attempt; False when another maker recorded it first."""
    order_id, seller_id = planned.order_id, planned.seller_id
    await ledger.lock_order(session, order_id)
    row = await session.get(Payout, (order_id, seller_id), populate_existing=True)
    order = await session.get(PaidOrder, order_id)
    if row is None or order is None or row.status != "pending" or row.attempts != planned.attempt:
        return False
    if isinstance(answer, _Refused):
        skip(session, order, row, "transfer_failed", answer.reason)
        return True
    await ledger.record(session, domain.payout(order_id, seller_id, planned.amount_cents, answer))
    now = utcnow()
    row.status, row.skip_reason = "transferred", None
    row.transfer_id, row.source_charge_id, row.transferred_at = answer, planned.charge_id, now
    record_event(session, PayoutTransferCreatedV1(
        order_id=order_id, seller_id=seller_id, currency=order.currency, seller_net_cents=row.net_cents,
        balance_before_cents=row.balance_before_cents, transfer_id=answer, amount_cents=planned.amount_cents,
        source_charge_id=planned.charge_id, created_at=now), subject_id=order_id)
    return True


async def _made_before(stripe: StripeGateway, order_id: str, seller_id: str, attempt: int) -> str | None:
    """The transfer an earlier try of this attempt made, if Stripe has one. That try's answer may have been
    lost, and a day later Stripe no longer knows its idempotency key: asking again could make a second."""
    listing = await stripe.v1.transfers.list_async({"transfer_group": order_id, "limit": 100})
    for transfer in await collect(listing):
        metadata = transfer.get("metadata") or {}
        if metadata.get("seller_id") == seller_id and metadata.get("attempt") == str(attempt):
            return str(transfer["id"])
    return None


async def run_maker(sessionmaker: async_sessionmaker[AsyncSession], poll_seconds: float, at_once: int,
                    limit: int = 50) -> None:
    """Make planned transfers as their plans commit (``TRANSFERS_PLANNED``), and every ``poll_seconds``
    (other replicas' plans; a plan whose maker died before it was made); at once again after a full pass."""
    await run_passes(partial(make_planned, sessionmaker, limit=limit, at_once=at_once), poll_seconds=poll_seconds,
                     wake=TRANSFERS_PLANNED.waiter(), full=limit, logger=logger,
                     failure_message="making planned transfers failed")
