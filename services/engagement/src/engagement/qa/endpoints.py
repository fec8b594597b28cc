"""Q&A endpoints (Q1-Q3) and the staff report queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from engagement.models import ReportStatus
from engagement.qa import service
from engagement.qa.schemas import (
    MessageOut,
    ProductThreads,
    ReplyIn,
    ReportIn,
    ReportOut,
    ReportQueue,
    ThreadIn,
    ThreadOut,
)
from homecraft_shared.dependencies import CurrentIdentity, DbSession, resource
from homecraft_shared.openapi import problems
from homecraft_shared.ratelimit import RateLimiter

router = APIRouter(tags=["q&a"])

Limiter = Annotated[RateLimiter, Depends(resource(RateLimiter))]
ProductId = Path(min_length=1, max_length=64)


@router.get("/products/{product_id}/threads", summary="The 20 threads with the newest activity, and the count (C9)")
async def product_threads(session: DbSession, product_id: str = ProductId) -> ProductThreads:
    return await service.product_threads(session, product_id)


@router.post(
    "/products/{product_id}/threads",
    status_code=status.HTTP_201_CREATED,
    summary="Ask a question about a listed product (signed-in users; rate-limited)",
    responses=problems(404, 409, 429),
)
async def create_thread(
    body: ThreadIn, session: DbSession, identity: CurrentIdentity, limiter: Limiter, product_id: str = ProductId
) -> ThreadOut:
    return await service.create_thread(session, identity, product_id, body, limiter)


@router.post(
    "/threads/{thread_id}/messages",
    status_code=status.HTTP_201_CREATED,
    summary="Reply (the thread's buyer, the product's seller, staff; rate-limited)",
    responses=problems(403, 404, 429),
)
async def reply(
    thread_id: uuid.UUID, body: ReplyIn, session: DbSession, identity: CurrentIdentity, limiter: Limiter
) -> MessageOut:
    return await service.reply(session, identity, thread_id, body, limiter)


@router.delete(
    "/messages/{message_id}",
    summary="Soft-delete a message (its author within 30 minutes, staff)",
    responses=problems(403, 404),
)
async def delete_message(message_id: uuid.UUID, session: DbSession, identity: CurrentIdentity) -> MessageOut:
    return await service.delete_message(session, identity, message_id)


@router.post(
    "/messages/{message_id}/reports",
    status_code=status.HTTP_201_CREATED,
    summary="Report a message to staff (signed-in users; never hides it; rate-limited)",
    responses=problems(404, 409, 429),
)
async def report_message(
    message_id: uuid.UUID, body: ReportIn, session: DbSession, identity: CurrentIdentity, limiter: Limiter
) -> ReportOut:
    return await service.report_message(session, identity, message_id, body, limiter)


@router.get(
    "/staff/reports", summary="The staff queue of reports, newest first (open ones by default)", responses=problems(403)
)
async def report_queue(
    session: DbSession,
    identity: CurrentIdentity,
    status_: ReportStatus | None = Query(ReportStatus.OPEN, alias="status"),
    page: int = Query(1, ge=1, le=10_000),
    page_size: int = Query(50, ge=1, le=200),
) -> ReportQueue:
    return await service.report_queue(session, identity, status_, offset=(page - 1) * page_size, limit=page_size)


@router.post(
    "/staff/reports/{report_id}/resolve",
    summary="Resolve a report (staff; records who and when)",
    responses=problems(403, 404),
)
async def resolve_report(report_id: uuid.UUID, session: DbSession, identity: CurrentIdentity) -> ReportOut:
    return await service.resolve_report(session, identity, report_id)
