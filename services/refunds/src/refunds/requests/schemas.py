from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from homecraft_shared.inputs import Line, Text
from refunds.domain import Reason
from refunds.models import RefundRequest, RequestTransition

NoteText = Annotated[Text, Field(max_length=2000)]


class RefundRequestIn(BaseModel):
    order_id: Annotated[Line, Field(min_length=1, max_length=64)]
    line_id: Annotated[Line, Field(min_length=1, max_length=64)]
    reason: Reason
    note: NoteText = ""
    # A guest (R2): the order link's token and the email typed at checkout, typed again.
    guest_token: Annotated[Line, Field(max_length=200)] | None = None
    guest_email: Annotated[Line, Field(max_length=254)] | None = None


class DecisionIn(BaseModel):
    note: NoteText | None = None


class GuestAccessIn(BaseModel):
    guest_token: Annotated[Line, Field(min_length=1, max_length=200)]


class TransitionOut(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    note: str | None
    at: dt.datetime

    @classmethod
    def of(cls, row: RequestTransition) -> TransitionOut:
        return cls(from_status=row.from_status, to_status=row.to_status, actor=row.actor, note=row.note, at=row.at)


class RefundRequestOut(BaseModel):
    id: str
    order_id: str
    line_id: str
    product_id: str
    seller_id: str
    buyer_id: str | None
    title: str
    reason: str
    note: str
    status: str
    escalated: bool
    currency: str
    line_gross_cents: int
    tax_share_cents: int
    shipping_share_cents: int
    amount_cents: int
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    stripe_refund_id: str | None
    refunded_at: dt.datetime | None
    canceled_at: dt.datetime | None
    escalated_at: dt.datetime | None
    history: list[TransitionOut] = Field(default_factory=list)

    @classmethod
    def of(cls, row: RefundRequest, history: list[RequestTransition] | None = None) -> RefundRequestOut:
        return cls(
            id=row.id, order_id=row.order_id, line_id=row.line_id, product_id=row.product_id, seller_id=row.seller_id,
            buyer_id=row.buyer_id, title=row.title, reason=row.reason, note=row.note, status=row.status,
            escalated=row.escalated_at is not None, currency=row.currency, line_gross_cents=row.line_gross_cents,
            tax_share_cents=row.tax_share_cents, shipping_share_cents=row.shipping_share_cents,
            amount_cents=row.amount_cents, created_at=row.created_at, decided_by=row.decided_by,
            decided_at=row.decided_at, decision_note=row.decision_note, stripe_refund_id=row.stripe_refund_id,
            refunded_at=row.refunded_at, canceled_at=row.canceled_at, escalated_at=row.escalated_at,
            history=[TransitionOut.of(t) for t in history or []],
        )


class RefundRequestPage(BaseModel):
    items: list[RefundRequestOut]
    page: int
    page_size: int
    total: int


class BulkRefundIn(BaseModel):
    request_ids: Annotated[list[Annotated[Line, Field(max_length=36)]], Field(min_length=1, max_length=100)]


class BulkRefundResult(BaseModel):
    request_id: str
    ok: bool
    status: str | None
    detail: str | None


class BulkRefundOut(BaseModel):
    results: list[BulkRefundResult]
