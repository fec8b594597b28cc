from __future__ import annotations

from fastapi import APIRouter

from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems
from orders.views import service
from orders.views.schemas import OrderPage
from orders.web import ViewPage

router = APIRouter(tags=["order views"])


@router.get("/me/orders", summary="My orders, all statuses, 20 a page (O8)")
async def my_orders(session: DbSession, identity: CurrentIdentity, page: ViewPage) -> OrderPage:
    return await service.my_orders(session, identity, page)


@router.get("/me/purchases", summary="My paid orders, 20 a page; FILE lines have downloads (O8, O6)")
async def my_purchases(session: DbSession, identity: CurrentIdentity, page: ViewPage) -> OrderPage:
    return await service.my_purchases(session, identity, page)


@router.get("/seller/orders", summary="Paid orders with my items, only my lines; owners see all (O8)",
            responses=problems(403))
async def seller_orders(session: DbSession, identity: CurrentIdentity, page: ViewPage) -> OrderPage:
    return await service.seller_orders(session, identity, page)
