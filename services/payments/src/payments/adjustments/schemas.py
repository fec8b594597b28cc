from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from homecraft_shared.inputs import Int32, Line, Text
from payments.models import LedgerAdjustment


class AdjustmentCreate(BaseModel):
    seller_id: Annotated[Line, Field(min_length=1, max_length=64, description="The seller whose balance moves.")]
    amount_cents: Annotated[Int32, Field(description="Signed cents: positive credits the seller, negative debits "
                                                     "(never 0; at most 10,000,000 either way).")]
    reason: Annotated[Text, Field(min_length=3, max_length=1000, description="Why: shown to the seller and kept.")]


class AdjustmentOut(BaseModel):
    id: int
    seller_id: str
    amount_cents: int
    reason: str
    actor_id: str
    actor_name: str
    created_at: dt.datetime
    balance_cents: int = Field(description="The seller's balance now (P6).")

    @classmethod
    def of(cls, row: LedgerAdjustment, balance_cents: int) -> AdjustmentOut:
        return cls(id=row.id, seller_id=row.seller_id, amount_cents=row.amount_cents, reason=row.reason,
                   actor_id=row.actor_id, actor_name=row.actor_name, created_at=row.created_at,
                   balance_cents=balance_cents)


class AdjustmentPage(BaseModel):
    items: list[AdjustmentOut]
    total: int
    page: int
    page_size: int
