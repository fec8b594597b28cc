"""Stripe's webhook endpoints (P4) and the processed-event log (A4)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from homecraft_shared.dependencies import DbSession, OwnerIdentity, runtime_of
from homecraft_shared.openapi import problems
from homecraft_shared.routes import RequestOnlyRoute
from payments.webhooks import repository, service

router = APIRouter(tags=["webhooks"])


class WebhookAnswer(BaseModel):
    received: bool
    event_id: str
    duplicate: bool


# The intake routes take only the request and answer with a ready response (decision 0308): no
# dependency solving, response validation or serialization by FastAPI per webhook; documented as before.
# No request session either: the event is stored through the group commit (decision 0307).
intake_router = APIRouter(tags=["webhooks"], route_class=RequestOnlyRoute)


async def _intake(request: Request, endpoint: service.Endpoint) -> Response:
    intake = runtime_of(request).resources.get(service.WebhookIntake)
    payload = await request.body()
    event = service.verify(payload, request.headers.get("stripe-signature"), intake.secret(endpoint),
                           intake.tolerance_seconds)
    stored = await service.store(intake.group, event, payload, endpoint)
    answer = WebhookAnswer(received=True, event_id=stored.event_id, duplicate=not stored.stored)
    return Response(answer.model_dump_json(), media_type="application/json")


@intake_router.post("/webhooks/stripe", response_model=WebhookAnswer, responses=problems(400),
                    summary="Stripe platform webhooks (checkout, refunds, disputes): verified, stored, 2xx")
async def platform_webhook(request: Request) -> Response:
    return await _intake(request, "platform")


@intake_router.post("/webhooks/stripe/connect", response_model=WebhookAnswer, responses=problems(400),
                    summary="Stripe Connect webhooks (account.updated), with their own secret")
async def connect_webhook(request: Request) -> Response:
    return await _intake(request, "connect")


class StripeEventOut(BaseModel):
    event_id: str
    type: str
    endpoint: str
    account: str | None
    stripe_created: dt.datetime
    received_at: dt.datetime
    status: str
    outcome: str
    waiting_for_order: str | None
    processed_at: dt.datetime | None


class StripeEventPage(BaseModel):
    items: list[StripeEventOut]
    total: int
    page: int
    page_size: int


@router.get("/operator/stripe-events", responses=problems(400, 403),
            summary="The Stripe events received and how each was processed (A4; owners)")
async def stripe_events(
    session: DbSession,
    _: OwnerIdentity,
    type: str | None = Query(None, max_length=100, description="Only this Stripe event type."),
    status: str | None = Query(None, pattern="^(received|processed|ignored|waiting)$"),
    since: dt.datetime | None = Query(None, description="Received at or after this time."),
    page: int = Query(1, ge=1, le=100_000),
    page_size: int = Query(50, ge=1, le=200),
) -> StripeEventPage:
    rows, total = await repository.page(session, type_=type, status=status, since=since,
                                        offset=(page - 1) * page_size, limit=page_size)
    return StripeEventPage(items=[StripeEventOut.model_validate(row, from_attributes=True) for row in rows],
                           total=total, page=page, page_size=page_size)
