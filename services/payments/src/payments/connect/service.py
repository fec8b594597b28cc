"""Stripe Connect Express onboarding (P1) and payout readiness (P2).

Readiness = account id AND details_submitted AND charges_enabled AND payouts_enabled. Every change of
it is published (``seller.payout_readiness_changed``) in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, Problem
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.messaging.outbox import record_event
from homecraft_shared.upsert import insert_for
from payments.connect.schemas import ConnectStatus
from payments.deps import deps
from payments.models import SellerAccount
from payments.stripe_gateway import idempotency
from payments.stripe_objects import as_dict, text
from payments.webhooks.processing import Outcome, StripeFact


def is_ready(account: SellerAccount) -> bool:
    """P2."""
    return bool(account.stripe_account_id) and account.details_submitted and account.charges_enabled \
        and account.payouts_enabled


async def claim_stripe_account(session: AsyncSession, seller_id: str, stripe_account_id: str,
                               email: str | None) -> SellerAccount:
    """The seller's row with its Stripe account, written as one upsert: a seller's onboarding request
    and the consumer's ``account.updated`` for the same new account can both be between their Stripe
    call and their commit, and whichever commits second updates the row instead of failing on its
    unique keys. An account id already stored stays (the first one written wins)."""
    table = SellerAccount.__table__
    now = utcnow()
    statement = insert_for(session, table).values(
        seller_id=seller_id, stripe_account_id=stripe_account_id, email=email, details_submitted=False,
        charges_enabled=False, payouts_enabled=False, ready=False, created_at=now, updated_at=now)
    await session.execute(statement.on_conflict_do_update(index_elements=[table.c.seller_id], set_={
        "stripe_account_id": func.coalesce(table.c.stripe_account_id, statement.excluded.stripe_account_id),
        "email": func.coalesce(table.c.email, statement.excluded.email),
        "updated_at": statement.excluded.updated_at,
    }))
    account = await session.get(SellerAccount, seller_id, populate_existing=True, with_for_update=True)
    assert account is not None  # written just above, in this transaction
    return account


def apply_stripe_account(session: AsyncSession, account: SellerAccount, stripe_account: Any, as_of: dt.datetime) -> bool:
    """Copy Stripe's flags as read from Stripe at ``as_of`` (when the read was sent); publish a readiness
    change. Returns whether readiness changed. Callers pass what they just read from the API, never a
    webhook's payload (an event can be late, and its one-second timestamp cannot order it against a
    read). A read older than the one already applied changes nothing."""
    if account.stripe_as_of is not None and as_of < account.stripe_as_of:
        return False
    stripe_account = as_dict(stripe_account)
    account.stripe_as_of = as_of
    account.details_submitted = bool(stripe_account.get("details_submitted"))
    account.charges_enabled = bool(stripe_account.get("charges_enabled"))
    account.payouts_enabled = bool(stripe_account.get("payouts_enabled"))
    return _refresh_readiness(session, account)


def _refresh_readiness(session: AsyncSession, account: SellerAccount) -> bool:
    ready = is_ready(account)
    if ready and account.onboarding_completed_at is None:
        account.onboarding_completed_at = utcnow()
    if ready == account.ready:
        return False
    account.ready = ready
    record_event(session, SellerPayoutReadinessChangedV1(
        seller_id=account.seller_id, ready=ready, stripe_account_id=account.stripe_account_id, changed_at=utcnow(),
    ), subject_id=account.seller_id)
    return True


class OnboardingProblem(Problem):
    status = 422
    title = "Cannot start payout onboarding"


async def start(session: AsyncSession, seller_id: str, email: str | None, *, country: str = "US") -> tuple[SellerAccount, str]:
    """P1: create the Express account (once per seller: an idempotency key) and an onboarding link.

    Nothing is written before the Stripe calls (no write lock held across them); the account is then
    stored with ``claim_stripe_account``, as the consumer does when Stripe's ``account.updated`` for it
    is handled first."""
    account = await session.get(SellerAccount, seller_id)
    if account is None or not account.stripe_account_id:
        email = (email or (account.email if account else None) or "").strip()
        if not email:
            raise OnboardingProblem("An email address is required before payout onboarding (I2): add one to your "
                                    "profile, then start again.")
        read_at = utcnow()
        created = await deps(session).stripe.v1.accounts.create_async({
            "type": "express", "country": country, "email": email,
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "business_type": "individual", "metadata": {"seller_id": seller_id},
        }, idempotency(f"connect-account:{seller_id}:v1"))
        link = await account_link(session, created.id)
        account = await claim_stripe_account(session, seller_id, created.id, email)
        apply_stripe_account(session, account, created, read_at)
    else:
        link = await account_link(session, account.stripe_account_id)
    if account.onboarding_started_at is None:
        account.onboarding_started_at = utcnow()
    return account, link


async def account_link(session: AsyncSession, stripe_account_id: str) -> str:
    settings = deps(session).settings
    base = settings.public_base_url.rstrip("/")
    link = await deps(session).stripe.v1.account_links.create_async({
        "account": stripe_account_id, "type": "account_onboarding",
        "refresh_url": f"{base}/payouts/connect/refresh", "return_url": f"{base}/payouts/connect/return",
    })
    return str(link.url)


async def sync(session: AsyncSession, seller_id: str) -> SellerAccount | None:
    """P1 manual sync (and the return page): read the account from Stripe now. None: the seller has not
    started onboarding (nothing is written for them)."""
    account = await session.get(SellerAccount, seller_id)
    if account is not None and account.stripe_account_id:
        read_at = utcnow()
        stripe_account = await deps(session).stripe.v1.accounts.retrieve_async(account.stripe_account_id)
        apply_stripe_account(session, account, stripe_account, read_at)
    return account


async def on_account_updated(session: AsyncSession, fact: StripeFact) -> Outcome:
    """``account.updated`` from the Connect endpoint (its own signing secret, P1). The event says which
    account changed; its state is read from Stripe now, so a late or reordered event never sets an
    older state."""
    obj = fact.object
    account_id = text(obj.get("id"))
    account = await session.scalar(select(SellerAccount).where(SellerAccount.stripe_account_id == account_id))
    if account is None:
        # Not stored yet: the seller's onboarding request may still be between its Stripe call and its
        # commit (or died there). The account's metadata names the seller.
        seller_id = text((obj.get("metadata") or {}).get("seller_id"))
        if not seller_id:
            return Outcome.ignored(f"account {account_id} belongs to no seller of this marketplace")
        account = await claim_stripe_account(session, seller_id, account_id, text(obj.get("email")) or None)
        if account.stripe_account_id != account_id:
            return Outcome.ignored(f"account {account_id} is not seller {seller_id}'s payout account "
                                   f"({account.stripe_account_id})")
    read_at = utcnow()
    current = await deps(session).stripe.v1.accounts.retrieve_async(account_id)
    changed = apply_stripe_account(session, account, current, read_at)
    return Outcome.done(f"seller {account.seller_id} ready={account.ready}" + (" (changed)" if changed else ""))


def status_of(account: SellerAccount | None, seller_id: str) -> ConnectStatus:
    if account is None:
        return ConnectStatus(seller_id=seller_id, stripe_account_id=None, details_submitted=False, charges_enabled=False,
                             payouts_enabled=False, ready=False, onboarding_started_at=None, onboarding_completed_at=None)
    return ConnectStatus(
        seller_id=account.seller_id, stripe_account_id=account.stripe_account_id,
        details_submitted=bool(account.details_submitted), charges_enabled=bool(account.charges_enabled),
        payouts_enabled=bool(account.payouts_enabled), ready=bool(account.ready),
        onboarding_started_at=account.onboarding_started_at, onboarding_completed_at=account.onboarding_completed_at)


async def status(session: AsyncSession, seller_id: str) -> ConnectStatus:
    return status_of(await session.get(SellerAccount, seller_id), seller_id)


async def refresh_link(session: AsyncSession, seller_id: str) -> tuple[SellerAccount, str]:
    """A fresh onboarding link when the last one expired (P1)."""
    account = await session.get(SellerAccount, seller_id)
    if account is None or not account.stripe_account_id:
        raise Conflict("Payout onboarding has not been started yet.")
    return account, await account_link(session, account.stripe_account_id)
