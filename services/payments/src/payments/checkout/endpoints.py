"""Checkout (P3): the buyer (or the guest token holder) asks for a Stripe Checkout Session for an order."""

from __future__ import annotations

from fastapi import APIRouter

from homecraft_shared.dependencies import DbSession, OptionalIdentity
from homecraft_shared.openapi import problems
from payments.checkout import service
from payments.checkout.schemas import CheckoutStart, CheckoutStarted

router = APIRouter(prefix="/checkout", tags=["checkout"], responses=problems(401, 403, 404, 409, 422, 503))


@router.post("/sessions", summary="A Checkout Session for an order (P3, O5); a free order is paid without Stripe (O3)")
async def start_checkout(body: CheckoutStart, session: DbSession, _: OptionalIdentity) -> CheckoutStarted:
    return await service.start(session, body.order_id, body.order_token)
