"""The internal API for the other services (payments at checkout P3, refunds R1); never routed by
the gateway. Needs a service's own identity (decision 0201) or an owner."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from homecraft_shared.dependencies import DbSession, ServiceIdentity
from homecraft_shared.errors import NotFound
from homecraft_shared.openapi import problems
from orders.placing import repository
from orders.placing.schemas import OrderOut
from orders.placing.service import to_out
from orders.siteconfig import service as siteconfig
from orders.web import OrderId

router = APIRouter(prefix="/internal", tags=["internal"], responses=problems(403, 404))

class InternalOrder(BaseModel):
    order: OrderOut
    shipping_countries: list[str]
    stripe_session_id: str | None
    stripe_payment_intent_id: str | None
    stripe_charge_id: str | None


@router.get("/orders/{order_id}", summary="An order's snapshot for checkout (P3) and refunds (R1)")
async def internal_order(order_id: OrderId, session: DbSession, _: ServiceIdentity) -> InternalOrder:
    order = await repository.by_id(session, order_id)
    if order is None:
        raise NotFound("No such order.")
    config = await siteconfig.load(session)
    return InternalOrder(order=to_out(order), shipping_countries=list(config.allowed_countries),
                         stripe_session_id=order.stripe_session_id, stripe_payment_intent_id=order.stripe_payment_intent_id,
                         stripe_charge_id=order.stripe_charge_id)
