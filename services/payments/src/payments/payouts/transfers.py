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
import contextlib
import logging
from typing import Any

import stripe as stripe_lib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
    could not be reached (it stays pending)."""
    async with sessionmaker() as session:
        row = await session.get(Payout, (order_id, seller_id))
        order = await session.get(PaidOrder, order_id)
        account = await session.get(SellerAccount, seller_id)
        if row is None or row.status != "pending" or order is None or account is None or not account.stripe_account_id:
            return False
        attempt, amount, asked_before = row.attempts, row.amount_cents, row.transfer_asked_at is not None
        charge_id = order.charge_id
        if not charge_id:
            checkout = await session.get(Checkout, order_id)
            charge_id = checkout.charge_id if checkout is not None else None
        params: dict[str, Any] = {
            "amount": amount, "currency": order.currency, "destination": account.stripe_account_id,
            "transfer_group": order_id,
            "metadata": {"order_id": order_id, "seller_id": seller_id, "attempt": str(attempt),
                         "net_cents": str(row.net_cents), "seller_balance_before": str(row.balance_before_cents)},
        }
        if charge_id:
            params["source_transaction"] = charge_id
        stripe = deps(session).stripe
    # No transaction is open from here until Stripe answers.
    if not asked_before and not await _note_asked(sessionmaker, order_id, seller_id, attempt):
        return False
    transfer_id = None
    refusal = None
    try:
        transfer_id = await _made_before(stripe, order_id, seller_id, attempt) if asked_before else None
        if transfer_id is None:
            transfer_id = (await stripe.v1.transfers.create_async(
                params, idempotency(f"transfer:{order_id}:{seller_id}:{attempt}"))).id
    except stripe_lib.InvalidRequestError as exc:  # Stripe refused it (e.g. the charge cannot fund it)
        refusal = f"transfer to seller {seller_id} refused by Stripe: {exc.user_message or exc}"
    except stripe_lib.StripeError as exc:
        logger.warning("a planned transfer could not be made; it stays pending", extra={
            "order_id": order_id, "seller_id": seller_id, "error": repr(exc)})
        return False
    async with sessionmaker() as session:
        await ledger.lock_order(session, order_id)
        row = await session.get(Payout, (order_id, seller_id), populate_existing=True)
        order = await session.get(PaidOrder, order_id)
        if row is None or order is None or row.status != "pending" or row.attempts != attempt:
            return False  # another maker recorded this attempt first
        if refusal is not None:
            skip(session, order, row, "transfer_failed", refusal)
        else:
            assert transfer_id is not None
            await ledger.record(session, domain.payout(order_id, seller_id, amount, transfer_id))
            now = utcnow()
            row.status, row.skip_reason = "transferred", None
            row.transfer_id, row.source_charge_id, row.transferred_at = transfer_id, charge_id, now
            record_event(session, PayoutTransferCreatedV1(
                order_id=order_id, seller_id=seller_id, currency=order.currency, seller_net_cents=row.net_cents,
                balance_before_cents=row.balance_before_cents, transfer_id=transfer_id, amount_cents=amount,
                source_charge_id=charge_id, created_at=now), subject_id=order_id)
        await session.commit()
    return True


async def _note_asked(sessionmaker: async_sessionmaker[AsyncSession], order_id: str, seller_id: str,
                      attempt: int) -> bool:
    """Write down, in a short transaction of its own, that this attempt is about to be asked of Stripe; False
    when the row moved on meanwhile (another maker recorded it)."""
    async with sessionmaker() as session:
        noted = await session.execute(update(Payout).where(
            Payout.order_id == order_id, Payout.seller_id == seller_id, Payout.status == "pending",
            Payout.attempts == attempt).values(transfer_asked_at=utcnow()))
        await session.commit()
    return bool(getattr(noted, "rowcount", 0))


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
    wake = TRANSFERS_PLANNED.waiter()
    while True:
        wake.clear()
        try:
            settled = await make_planned(sessionmaker, limit=limit, at_once=at_once)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. the database busy; the next pass tries again
            logger.warning("making planned transfers failed", extra={"error": repr(exc)})
            settled = 0
        if settled < limit:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_seconds):
                    await wake.wait()
