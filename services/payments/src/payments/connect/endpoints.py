"""Connect onboarding for sellers (P1): start, return, refresh, manual sync, status."""

from __future__ import annotations

from fastapi import APIRouter

from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity
from homecraft_shared.openapi import problems
from payments.connect import service
from payments.connect.schemas import ConnectStart, ConnectStatus, OnboardingLink

router = APIRouter(prefix="/connect", tags=["connect"], responses=problems(401, 403, 409, 503))


def _seller(identity: Identity) -> str:
    if not identity.is_seller:
        raise Forbidden("Only sellers have payout accounts.")
    return identity.user_id


@router.get("/status", summary="The caller's Connect status and payout readiness (P2)")
async def connect_status(session: DbSession, identity: CurrentIdentity) -> ConnectStatus:
    return await service.status(session, _seller(identity))


@router.post("/start", summary="Create the Express account if needed and return an onboarding link (P1)")
async def connect_start(body: ConnectStart, session: DbSession, identity: CurrentIdentity) -> OnboardingLink:
    seller_id = _seller(identity)
    account, url = await service.start(session, seller_id, body.email)
    return OnboardingLink(url=url, status=service.status_of(account, seller_id))


@router.post("/sync", summary="Read the account from Stripe now (when a webhook is late)")
async def connect_sync(session: DbSession, identity: CurrentIdentity) -> ConnectStatus:
    seller_id = _seller(identity)
    return service.status_of(await service.sync(session, seller_id), seller_id)


@router.get("/return", summary="Where Stripe sends the seller after onboarding: the status, refreshed from Stripe")
async def connect_return(session: DbSession, identity: CurrentIdentity) -> ConnectStatus:
    seller_id = _seller(identity)
    return service.status_of(await service.sync(session, seller_id), seller_id)


@router.get("/refresh", summary="The onboarding link expired: a fresh one")
async def connect_refresh(session: DbSession, identity: CurrentIdentity) -> OnboardingLink:
    seller_id = _seller(identity)
    account, url = await service.refresh_link(session, seller_id)
    return OnboardingLink(url=url, status=service.status_of(account, seller_id))
