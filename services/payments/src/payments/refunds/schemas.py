from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from homecraft_shared.inputs import Cents, Line
from payments.models import StripeRefund


class RefundExecute(BaseModel):
    refund_request_id: Annotated[Line, Field(min_length=1, max_length=64,
                                             description="The refunds service's request id (R3).")]
    order_id: Annotated[Line, Field(min_length=1, max_length=64)]
    line_ids: list[Annotated[Line, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=50, description="The order lines refunded (R1: one).")
    amount_cents: Annotated[Cents, Field(gt=0, le=100_000_000, description="The request's snapshot total (R1).")]


class RefundOut(BaseModel):
    refund_id: str
    refund_request_id: str | None
    order_id: str
    amount_cents: int
    currency: str
    status: str
    line_ids: list[str]
    created_at: dt.datetime

    @classmethod
    def of(cls, row: StripeRefund) -> RefundOut:
        return cls(refund_id=row.refund_id, refund_request_id=row.refund_request_id, order_id=row.order_id,
                   amount_cents=row.amount_cents, currency=row.currency, status=row.status,
                   line_ids=row.line_ids.split(",") if row.line_ids else [], created_at=row.created_at)
