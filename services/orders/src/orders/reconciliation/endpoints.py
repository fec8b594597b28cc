from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from homecraft_shared.dependencies import DbSession, OwnerIdentity
from homecraft_shared.openapi import problems
from orders.reconciliation import service
from orders.reconciliation.schemas import BuyerType, Flag, ItemMix, OrderPayouts, PayoutStateFilter, ReconPage
from orders.web import OrderId, ReconPaging

router = APIRouter(prefix="/ops", tags=["operator reconciliation"], responses=problems(403))


@router.get("/orders", summary="Orders with their reconciliation flags, filtered (A1; owners)")
async def reconciliation_list(
    session: DbSession,
    _: OwnerIdentity,
    window: ReconPaging,
    paid: bool | None = None,
    buyer_type: BuyerType | None = None,
    mix: ItemMix | None = None,
    payout_state: PayoutStateFilter | None = None,
    flag: Annotated[list[Flag], Query(description="Only orders with every flag given.")] = [],  # noqa: B006
) -> ReconPage:
    return await service.orders_page(session, paid=paid, buyer_type=buyer_type, mix=mix, payout_state=payout_state,
                                      flags=flag, window=window)


@router.get("/orders/{order_id}/payouts", summary="Per-seller payout summary of one order (A2; owners)",
            responses=problems(404))
async def order_payouts(order_id: OrderId, session: DbSession, _: OwnerIdentity) -> OrderPayouts:
    return await service.order_payouts(session, order_id)
