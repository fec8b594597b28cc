"""Refund execution for the refunds service (R3, R4): a command, idempotent per refund request."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from homecraft_shared.dependencies import CurrentIdentity, DbSession
from homecraft_shared.openapi import problems
from payments.refunds import execution
from payments.refunds.schemas import RefundExecute, RefundOut

router = APIRouter(prefix="/refunds", tags=["refunds"], responses=problems(401, 403, 404, 409, 503))


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="Create the Stripe refund for an approved refund request (once per request; R3)")
async def execute_refund(body: RefundExecute, session: DbSession, identity: CurrentIdentity, response: Response) -> RefundOut:
    out, created = await execution.execute(session, identity, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out
