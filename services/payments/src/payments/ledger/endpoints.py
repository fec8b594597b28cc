"""The seller payouts API (P9) and per-order payout transparency."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from homecraft_shared.dependencies import CurrentIdentity, DbSession, OwnerIdentity
from homecraft_shared.errors import Forbidden
from homecraft_shared.identity import Identity
from homecraft_shared.inputs import QueryText
from homecraft_shared.openapi import problems
from payments.ledger import service
from payments.ledger.domain import Reason
from payments.ledger.schemas import OrderPayout, OrderPayoutPage, SellerPayouts

router = APIRouter(prefix="/payouts", tags=["payouts"], responses=problems(401, 403, 404))

REASONS = "^(" + "|".join(r.value for r in Reason) + ")$"


def _seller(identity: Identity) -> str:
    if not identity.is_seller:
        raise Forbidden("Only sellers have a payout ledger.")
    return identity.user_id


@router.get("/me", summary="The caller's balance, ledger entries (newest first, 50 a page) and Connect status (P9)")
async def my_payouts(
    session: DbSession,
    identity: CurrentIdentity,
    reason: str | None = Query(None, pattern=REASONS),
    q: QueryText | None = Query(None, max_length=100, description="Text in the note or the order id."),
    page: int = Query(1, ge=1, le=100_000),
) -> SellerPayouts:
    return await service.seller_payouts(session, _seller(identity), reason=reason, text=q, page=page)


@router.get("/me/orders", summary="Per-order payouts for the caller's paid orders, newest first")
async def my_order_payouts(
    session: DbSession, identity: CurrentIdentity, page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(20, ge=1, le=50),
) -> OrderPayoutPage:
    items = await service.order_payouts(session, _seller(identity), page=page, page_size=page_size)
    return OrderPayoutPage(items=items, page=page, page_size=page_size)


@router.get("/me/orders/{order_id}", summary="What the caller gets for one order, and when")
async def my_order_payout(order_id: Annotated[QueryText, Path(max_length=64)], session: DbSession,
                          identity: CurrentIdentity) -> OrderPayout:
    return await service.order_payout(session, _seller(identity), order_id)


@router.get("/sellers/{seller_id}", summary="A seller's payouts page, for owners")
async def seller_payouts(
    seller_id: Annotated[QueryText, Path(max_length=64)],
    session: DbSession,
    _: OwnerIdentity,
    reason: str | None = Query(None, pattern=REASONS),
    q: QueryText | None = Query(None, max_length=100),
    page: int = Query(1, ge=1, le=100_000),
) -> SellerPayouts:
    return await service.seller_payouts(session, seller_id, reason=reason, text=q, page=page)
