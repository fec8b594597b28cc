"""Refund execution for the refunds service (R3, R4): a command, idempotent per refund request."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from homecraft_shared.dependencies import CurrentIdentity, DbSession
from payments.models import StripeRefund
from payments.refunds import execution
from payments.refunds.schemas import RefundExecute, RefundOut

router = APIRouter(prefix="/refunds", tags=["refunds"])


def refund_out(row: StripeRefund) -> RefundOut:
    return RefundOut(refund_id=row.refund_id, refund_request_id=row.refund_request_id, order_id=row.order_id,
                     amount_cents=row.amount_cents, currency=row.currency, status=row.status,
                     line_ids=row.line_ids.split(",") if row.line_ids else [], created_at=row.created_at)


@router.post("", status_code=status.HTTP_201_CREATED,
             summary="Create the Stripe refund for an approved refund request (once per request; R3)")
async def execute_refund(body: RefundExecute, session: DbSession, identity: CurrentIdentity, response: Response) -> RefundOut:
    row, created = await execution.execute(session, identity, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return refund_out(row)
