from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from payments.connect.schemas import ConnectStatus


class EntryOut(BaseModel):
    id: int
    amount_cents: int
    reason: str
    order_id: str | None
    line_id: str | None
    stripe_object_id: str | None
    note: str
    created_at: dt.datetime


class SellerPayouts(BaseModel):
    """P9: balance, entries newest first (filtered), 50 a page, Connect status."""

    seller_id: str
    balance_cents: int
    payout_available_cents: int  # max(0, balance) (S2)
    adjusted_cents: int = Field(description="Σ of the operator's adjustments (P6), already in the balance.")
    connect: ConnectStatus
    entries: list[EntryOut]
    total: int
    page: int
    page_size: int


class TransferOut(BaseModel):
    transfer_id: str
    amount_cents: int
    at: dt.datetime | None
    source_charge_id: str | None


class OrderPayout(BaseModel):
    """Per-order transparency for a seller: what they get for this order, and when."""

    order_id: str
    paid_at: dt.datetime
    currency: str
    gross_cents: int
    marketplace_fee_cents: int
    net_cents: int
    status: str  # transferred | skipped | pending | free
    transfer: TransferOut | None
    skip_reason: str | None
    balance_before_cents: int | None
    debits: list[EntryOut]  # refunds and chargebacks on this order's lines since
    debited_cents: int
    explanation: str


class OrderPayoutPage(BaseModel):
    items: list[OrderPayout]
    page: int
    page_size: int
