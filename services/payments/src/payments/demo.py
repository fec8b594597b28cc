"""Demo Connect accounts for the run command's demo sellers, on the Stripe stand-in.

The catalog's demo data (catalog.seed) assumes seller-ada, seller-grace and seller-hedy are
payout-ready and seller-linus is not. Each gets an Express account created the normal way (the same
service code as ``POST /connect/start``); the stand-in's onboarding control then plays the seller
finishing (or not finishing) the hosted onboarding, and the account is read back from Stripe, so
readiness is published through the normal path (``seller.payout_readiness_changed``). Running it
again changes nothing. Only against the stand-in: real Stripe has no onboarding control.
"""

from __future__ import annotations

import httpx

from homecraft_shared.runtime import ServiceRuntime
from payments.connect import service as connect
from payments.deps import Deps

# seller id -> the onboarding outcome the stand-in plays (complete = payout-ready, P2)
DEMO_SELLERS = {
    "seller-ada": "complete",
    "seller-grace": "complete",
    "seller-hedy": "complete",
    "seller-linus": "payouts_disabled",  # details given, no bank account yet: not ready
}


async def seed_demo_accounts(runtime: ServiceRuntime) -> list[str]:
    settings = deps_of(runtime).settings
    if "api.stripe.com" in settings.stripe_api_base:
        return ["skipped: demo Connect accounts are made only on the Stripe stand-in"]
    lines = []
    async with httpx.AsyncClient(base_url=f"{settings.stripe_api_base.rstrip('/')}/_standin", timeout=10) as controls:
        for seller_id, outcome in DEMO_SELLERS.items():
            async with runtime.sessionmaker() as session:
                account, _ = await connect.start(session, seller_id, f"{seller_id}@demo.homecraft3d.example")
                # Committed before the onboarding below makes the stand-in send account.updated: the
                # consumer then finds the account stored (and SQLite's write lock is not held meanwhile).
                await session.commit()
                if not account.ready and outcome:
                    response = await controls.post(f"/accounts/{account.stripe_account_id}/onboarding",
                                                   json={"state": outcome})
                    response.raise_for_status()
                    account = await connect.sync(session, seller_id) or account
                    await session.commit()
                lines.append(f"{seller_id}: {account.stripe_account_id} ready={account.ready}")
    return lines


def deps_of(runtime: ServiceRuntime) -> Deps:
    deps: Deps = runtime.state["deps"]
    return deps
