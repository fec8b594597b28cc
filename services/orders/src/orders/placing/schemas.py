from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from homecraft_shared.inputs import Count, Line
from orders.domain import MAX_QUANTITY

MAX_LINES = 100
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"^[^@\s\x00-\x1f]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")

ProductId = Annotated[Line, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# The platform's strict count (homecraft_shared.inputs): "2", 2.0, 1.5 and true are refused, not
# coerced; 0, negatives and absurd counts too.
Quantity = Annotated[Count, Field(ge=1, le=MAX_QUANTITY)]


class CartLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: Quantity = Field(description=f"1-{MAX_QUANTITY}; a FILE line is always 1 (a larger quantity is forced to 1).")


class PlaceOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[CartLine] = Field(min_length=1, max_length=MAX_LINES)
    guest_email: Line | None = Field(default=None, max_length=254,
                                    description="Required without a signed-in buyer; ignored with one (O1).")

    @field_validator("guest_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if not EMAIL.match(value):
            raise ValueError("not a valid email address")
        return value

    @field_validator("lines")
    @classmethod
    def _distinct(cls, lines: list[CartLine]) -> list[CartLine]:
        seen: set[str] = set()
        for line in lines:
            if line.product_id in seen:
                raise ValueError(f"product {line.product_id} appears twice; send one line per product")
            seen.add(line.product_id)
        return lines


class LineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    product_id: str
    seller_id: str
    title: str
    kind: str
    is_digital: bool
    requires_shipping: bool
    quantity: int
    unit_price_cents: int
    gross_cents: int
    fee_cents: int
    net_cents: int
    refunded: bool
    downloadable: bool = Field(description="A FILE line of a paid order, not refunded: its files are at "
                                           "/orders/{id}/downloads (O6).")


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    type: str
    message: str
    actor: str
    created_at: dt.datetime


class OrderOut(BaseModel):
    id: str
    status: str
    kind: str
    currency: str
    buyer_id: str | None
    guest_email: str | None
    subtotal_cents: int
    tax_cents: int
    shipping_cents: int
    total_cents: int
    marketplace_percent: Decimal
    payment_method: str | None
    created_at: dt.datetime
    paid_at: dt.datetime | None
    lines: list[LineOut]
    notices: list[str] = Field(default_factory=list, description="E.g. a FILE quantity forced to 1.")
    access_token: str | None = Field(default=None, description="Guest orders, to the placer only: the ?t= token (O1).")
    timeline: list[TimelineEntry] | None = Field(default=None, description="Owners only (O4).")


class CheckoutOut(BaseModel):
    order: OrderOut
    payment_required: bool = Field(description="False when the order was free and is now paid (O3).")
