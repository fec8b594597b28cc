"""Stripe Connect Express onboarding (P1) and payout readiness (P2).

Readiness = account id AND details_submitted AND charges_enabled AND payouts_enabled. Every change of
it is published (``seller.payout_readiness_changed``) in the same transaction as the change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from homecraft_shared.db import utcnow
from homecraft_shared.errors import Conflict, Problem
from homecraft_shared.events.payments import SellerPayoutReadinessChangedV1
from homecraft_shared.messaging.outbox import record_event
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


async def get_or_create(session: AsyncSession, seller_id: str) -> SellerAccount:
    account = await session.get(SellerAccount, seller_id)
    if account is None:
        account = SellerAccount(seller_id=seller_id, details_submitted=False, charges_enabled=False,
                                payouts_enabled=False, ready=False)
        session.add(account)
    return account


def apply_stripe_account(session: AsyncSession, account: SellerAccount, stripe_account: Any, as_of: dt.datetime) -> bool:
    """Copy Stripe's flags as read from Stripe at ``as_of``; publish a readiness change. Returns whether
    readiness changed. Callers pass what they just read from the API, never a webhook's payload (an
    event can be late, and its one-second timestamp cannot order it against a read)."""
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
    """P1: create the Express account (once per seller: an idempotency key) and an onboarding link."""
    account = await get_or_create(session, seller_id)
    stripe = deps(session).stripe
    if not account.stripe_account_id:
        email = (email or account.email or "").strip()
        if not email:
            raise OnboardingProblem("An email address is required before payout onboarding (I2): add one to your "
                                    "profile, then start again.")
        created = await stripe.v1.accounts.create_async({
            "type": "express", "country": country, "email": email,
            "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
            "business_type": "individual", "metadata": {"seller_id": seller_id},
        }, idempotency(f"connect-account:{seller_id}:v1"))
        account.stripe_account_id = created.id
        account.email = email
        apply_stripe_account(session, account, created, utcnow())
    if account.onboarding_started_at is None:
        account.onboarding_started_at = utcnow()
    return account, await account_link(session, account)


async def account_link(session: AsyncSession, account: SellerAccount) -> str:
    if not account.stripe_account_id:
        raise Conflict("Payout onboarding has not been started yet.")
    settings = deps(session).settings
    base = settings.public_base_url.rstrip("/")
    link = await deps(session).stripe.v1.account_links.create_async({
        "account": account.stripe_account_id, "type": "account_onboarding",
        "refresh_url": f"{base}/payouts/connect/refresh", "return_url": f"{base}/payouts/connect/return",
    })
    return str(link.url)


async def sync(session: AsyncSession, seller_id: str) -> SellerAccount:
    """P1 manual sync (and the return page): read the account from Stripe now."""
    account = await get_or_create(session, seller_id)
    if account.stripe_account_id:
        stripe_account = await deps(session).stripe.v1.accounts.retrieve_async(account.stripe_account_id)
        apply_stripe_account(session, account, stripe_account, utcnow())
    return account


async def on_account_updated(session: AsyncSession, fact: StripeFact) -> Outcome:
    """``account.updated`` from the Connect endpoint (its own signing secret, P1). The event says which
    account changed; its state is read from Stripe now, so a late or reordered event never sets an
    older state."""
    obj = fact.object
    account_id = text(obj.get("id"))
    account = await session.scalar(select(SellerAccount).where(SellerAccount.stripe_account_id == account_id))
    if account is None:
        seller_id = text((obj.get("metadata") or {}).get("seller_id"))
        if not seller_id:
            return Outcome.ignored(f"account {account_id} belongs to no seller of this marketplace")
        account = await get_or_create(session, seller_id)
        account.stripe_account_id = account_id
        account.email = account.email or text(obj.get("email")) or None
    current = await deps(session).stripe.v1.accounts.retrieve_async(account_id)
    changed = apply_stripe_account(session, account, current, utcnow())
    return Outcome.done(f"seller {account.seller_id} ready={account.ready}" + (" (changed)" if changed else ""))


def status_of(account: SellerAccount) -> ConnectStatus:
    return ConnectStatus(
        seller_id=account.seller_id, stripe_account_id=account.stripe_account_id,
        details_submitted=bool(account.details_submitted), charges_enabled=bool(account.charges_enabled),
        payouts_enabled=bool(account.payouts_enabled), ready=bool(account.ready),
        onboarding_started_at=account.onboarding_started_at, onboarding_completed_at=account.onboarding_completed_at)


async def status(session: AsyncSession, seller_id: str) -> ConnectStatus:
    account = await session.get(SellerAccount, seller_id)
    if account is None:
        return ConnectStatus(seller_id=seller_id, stripe_account_id=None, details_submitted=False, charges_enabled=False,
                             payouts_enabled=False, ready=False, onboarding_started_at=None, onboarding_completed_at=None)
    return status_of(account)
