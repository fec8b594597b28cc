"""The operator's payout retry (P9, A3): recorded with who and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from homecraft_shared.dependencies import DbSession, OwnerIdentity
from homecraft_shared.inputs import Line
from homecraft_shared.openapi import problems
from payments.models import OperatorAction
from payments.paid_orders import repository as orders
from payments.payouts import service

router = APIRouter(prefix="/operator/payouts", tags=["operator"], responses=problems(401, 403))


class RetryRequest(BaseModel):
    order_ids: list[Annotated[Line, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=200)


class RetryResult(BaseModel):
    order_id: str
    outcome: str  # retried | skipped
    detail: str  # per seller: pending (a transfer planned, made right after this request commits) or skipped
    planned_cents: int = 0


@router.post("/retry", summary="Retry payouts for paid orders with sellers not transferred yet (P9; owners)")
async def retry_payouts(body: RetryRequest, session: DbSession, identity: OwnerIdentity) -> list[RetryResult]:
    results = []
    for order_id in dict.fromkeys(body.order_ids):
        order = await orders.get(session, order_id)
        if order is None:
            result = RetryResult(order_id=order_id, outcome="skipped", detail="no paid order with this id")
        elif service.is_free(order):
            result = RetryResult(order_id=order_id, outcome="skipped", detail="a free order has nothing to pay out")
        else:
            payouts = await service.pay_out(session, order)
            if not payouts:
                result = RetryResult(order_id=order_id, outcome="skipped",
                                     detail="every seller of the order has a transfer made or planned already")
            else:
                planned = [p for p in payouts if p.status == "pending"]
                result = RetryResult(
                    order_id=order_id, outcome="retried", planned_cents=sum(p.amount_cents for p in planned),
                    detail="; ".join(f"{p.seller_id}: {p.status}" + (f" ({p.skip_reason})" if p.skip_reason else "")
                                     for p in payouts))
        session.add(OperatorAction(actor_id=identity.user_id, actor_name=identity.username, action="payout_retry",
                                   target=order_id, detail=f"{result.outcome}: {result.detail}"))
        results.append(result)
    return results
