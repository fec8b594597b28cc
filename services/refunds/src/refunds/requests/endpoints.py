"""Refund requests over HTTP (R1-R4): create, read, queues, decide, cancel, refund, bulk refund."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status

from homecraft_shared.dependencies import CurrentIdentity, DbSession, OptionalIdentity, OwnerIdentity
from homecraft_shared.inputs import Line, Paging
from homecraft_shared.openapi import problems
from refunds.domain import Status
from refunds.requests import policy, repository, service
from refunds.requests.schemas import (
    BulkRefundIn,
    BulkRefundOut,
    DecisionIn,
    GuestAccessIn,
    RefundRequestIn,
    RefundRequestOut,
    RefundRequestPage,
)
from refunds.web import Limits, Peers, Settings

router = APIRouter(prefix="/refund-requests", tags=["refund requests"])
RequestId = Annotated[Line, Path(max_length=36)]
OrderId = Annotated[Line, Path(max_length=64)]
GuestToken = Annotated[Line | None, Query(max_length=200, description="A guest's order token (R2).")]


@router.post("", status_code=status.HTTP_201_CREATED, responses=problems(404, 409, 429),
             summary="Ask for a refund of one shipped line of a paid order (R1, R2)")
async def create_request(body: RefundRequestIn, session: DbSession, identity: OptionalIdentity, peers: Peers,
                         limits: Limits, settings: Settings) -> RefundRequestOut:
    request = await service.create(session, peers, limits, settings, identity, body)
    return await service.out(session, request)


@router.get("", responses=problems(403), summary="A queue: buyer (own), seller (own lines), staff (all, escalated first; R4)")
async def list_requests(session: DbSession, identity: CurrentIdentity, page: Paging,
                        view: Literal["buyer", "seller", "staff"] = "buyer",
                        status_filter: Annotated[Status | None, Query(alias="status")] = None) -> RefundRequestPage:
    return await service.queue(session, identity, view, status_filter, page)


@router.post("/guest-view/{order_id}", responses=problems(404),
             summary="A guest's requests on their order, through the order token (R2, R4)")
async def guest_requests(order_id: OrderId, body: GuestAccessIn, session: DbSession,
                         peers: Peers) -> list[RefundRequestOut]:
    order = await repository.order(session, order_id)
    if order is None or not await policy.guest_opens_order(peers, order, body.guest_token):
        raise policy.not_found_order(order_id)
    return [await service.out(session, row) for row in await repository.requests_of_order(session, order_id)]


@router.get("/{request_id}", responses=problems(404), summary="One request with its history (a party, or a guest with ?t=)")
async def get_request(request_id: RequestId, session: DbSession, identity: OptionalIdentity, peers: Peers,
                      t: GuestToken = None) -> RefundRequestOut:
    request = await policy.visible_request(session, peers, identity, request_id, t)
    return await service.out(session, request)


@router.post("/{request_id}/approve", responses=problems(403, 404, 409), summary="Approve (the line's seller, owner, staff; R3)")
async def approve(request_id: RequestId, body: DecisionIn, session: DbSession, identity: CurrentIdentity,
                  peers: Peers) -> RefundRequestOut:
    request = await service.decide(session, peers, identity, request_id, True, body.note)
    return await service.out(session, request)


@router.post("/{request_id}/decline", responses=problems(403, 404, 409), summary="Decline (the line's seller, owner, staff; R3)")
async def decline(request_id: RequestId, body: DecisionIn, session: DbSession, identity: CurrentIdentity,
                  peers: Peers) -> RefundRequestOut:
    request = await service.decide(session, peers, identity, request_id, False, body.note)
    return await service.out(session, request)


@router.post("/{request_id}/cancel", responses=problems(403, 404, 409),
             summary="Cancel before a decision (the buyer, or a guest with ?t=)")
async def cancel(request_id: RequestId, session: DbSession, identity: OptionalIdentity, peers: Peers,
                 t: GuestToken = None) -> RefundRequestOut:
    request = await service.cancel(session, peers, identity, request_id, t)
    return await service.out(session, request)


@router.post("/{request_id}/refund", responses=problems(403, 404, 409, 502, 503),
             summary="Refund an approved request through Stripe (the line's seller, owner, staff; R3, R4)")
async def refund(request_id: RequestId, session: DbSession, identity: CurrentIdentity,
                 peers: Peers) -> RefundRequestOut:
    request = await service.refund(session, peers, identity, request_id)
    return await service.out(session, request)


@router.post("/bulk-refund", responses=problems(403), summary="Operators: refund approved requests in bulk (R4)")
async def bulk_refund(body: BulkRefundIn, session: DbSession, identity: OwnerIdentity,
                      peers: Peers) -> BulkRefundOut:
    return BulkRefundOut(results=await service.bulk_refund(session, peers, identity, body.request_ids))
