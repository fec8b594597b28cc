from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

Flag = Literal["totals_mismatch", "ledger_mismatch", "missing_stripe_ids", "no_transfer", "skipped_unready"]
BuyerType = Literal["user", "guest"]
ItemMix = Literal["shipping", "digital", "physical_only", "digital_only"]
PayoutStateFilter = Literal["unpaid", "pending", "paid_out", "skipped"]


class ReconRow(BaseModel):
    id: str
    status: str
    kind: str
    buyer_id: str | None
    guest_email: str | None
    total_cents: int
    subtotal_cents: int
    currency: str
    created_at: dt.datetime
    paid_at: dt.datetime | None
    payment_method: str | None
    payout_state: str
    flags: list[Flag]


class ReconPage(BaseModel):
    items: list[ReconRow]
    page: int
    page_size: int
    has_more: bool


class SellerPayoutSummary(BaseModel):
    """A2: one seller's part of one order."""

    seller_id: str
    connect_ready: bool | None  # None: payments has not reported on this seller for this order yet
    gross_cents: int
    net_cents: int
    balance_before_cents: int | None
    payout_cents: int
    transfer_id: str | None
    no_payout_reason: str | None
    debits_since_cents: int


class OrderPayouts(BaseModel):
    order_id: str
    sellers: list[SellerPayoutSummary]
