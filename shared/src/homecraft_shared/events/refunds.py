"""Events the refunds service produces."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from homecraft_shared.events.payments import CURRENCY_PATTERN
from homecraft_shared.messaging.contracts import EventData, event_contract


@event_contract("refund.processed", 1, producer="refunds",
                description="A refund request's Stripe refund succeeded: the request is refunded. The ledger debit "
                            "itself is payments' (payment.refunded); this is the request's side of the same refund.")
class RefundProcessedV1(EventData):
    request_id: str
    order_id: str
    line_id: str
    product_id: str
    seller_id: str
    buyer_id: str | None = Field(description="The registered buyer; null for a guest order.")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    line_gross_cents: int = Field(ge=0, description="The line's gross, refunded in full.")
    tax_share_cents: int = Field(ge=0, description="The line's share of the order's tax.")
    shipping_share_cents: int = Field(ge=0, description="The line's share of the order's shipping.")
    amount_cents: int = Field(gt=0, description="What the buyer got back: gross + tax share + shipping share.")
    stripe_refund_id: str = Field(description="Stripe Refund id (re_...).")
    processed_at: dt.datetime
