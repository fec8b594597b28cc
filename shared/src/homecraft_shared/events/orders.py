"""Events the orders service produces.

Money is integer cents; the marketplace percent is a decimal with two places (serialized as a string,
e.g. ``"10.00"``) so no consumer ever sees a float. Secrets (the guest order token) never travel.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field

from homecraft_shared.events.catalog import ProductKind
from homecraft_shared.events.payments import CURRENCY_PATTERN, ShippingDetails
from homecraft_shared.messaging.contracts import EventData, event_contract

OrderKind = Literal["digital", "physical", "mixed"]


class OrderLineSnapshot(EventData):
    """One line's money snapshot, fixed at placement (O2): gross = quantity x unit; fee + net = gross."""

    line_id: str
    product_id: str
    seller_id: str
    title: str = Field(description="The product title at placement.")
    kind: ProductKind
    is_digital: bool = Field(description="FILE: a download.")
    requires_shipping: bool = Field(description="MODEL: a shipped print.")
    quantity: int = Field(ge=1, description="FILE lines are always 1.")
    unit_price_cents: int = Field(ge=0)
    gross_cents: int = Field(ge=0)
    fee_cents: int = Field(ge=0, description="round_half_up(gross x percent / 100).")
    net_cents: int = Field(ge=0, description="gross - fee: what the seller earns on this line.")


class OrderMoney(EventData):
    currency: str = Field(pattern=CURRENCY_PATTERN)
    subtotal_cents: int = Field(ge=0, description="Σ line gross.")
    tax_cents: int = Field(ge=0)
    shipping_cents: int = Field(ge=0)
    total_cents: int = Field(ge=0, description="subtotal + tax + shipping.")
    marketplace_percent: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2,
                                         description="The percent the order was placed with (S1, O2).")
    kind: OrderKind


class OrderLineRef(EventData):
    line_id: str
    product_id: str
    seller_id: str


@event_contract("order.paid", 1, producer="orders",
                description="An order was paid (O3), exactly once per order: the order and every line's money "
                            "snapshot (O2), the buyer or guest email, and the payment's ids.")
class OrderPaidV1(OrderMoney):
    order_id: str
    buyer_id: str | None = Field(description="The registered buyer; null for a guest order (O1).")
    guest_email: str | None = Field(description="Lower-cased guest email; null when buyer_id is set (O1).")
    payment_method: Literal["stripe", "free"] = Field(description="free: total 0, paid at once, no Stripe (O3).")
    checkout_session_id: str | None = Field(description="Stripe Checkout Session; null for free orders.")
    payment_intent_id: str | None = Field(description="Stripe PaymentIntent; null for free orders.")
    charge_id: str | None = Field(description="Stripe Charge (transfers' source_transaction, P5), when known.")
    shipping: ShippingDetails | None = Field(default=None, description="When a line requires shipping.")
    placed_at: dt.datetime
    paid_at: dt.datetime
    lines: list[OrderLineSnapshot] = Field(min_length=1)


@event_contract("order.refunded", 1, producer="orders",
                description="An order became refunded (O3): fully refunded (P7, R5) or a dispute lost (P8). "
                            "Downloads end (O6).")
class OrderRefundedV1(EventData):
    order_id: str
    buyer_id: str | None
    cause: Literal["refund", "chargeback"]
    refunded_cents: int = Field(ge=0, description="What was returned to the buyer in total.")
    currency: str = Field(pattern=CURRENCY_PATTERN)
    lines: list[OrderLineRef] = Field(min_length=1, description="Every line of the order.")
    refunded_at: dt.datetime


@event_contract("order.canceled", 1, producer="orders",
                description="A pending order was canceled before payment (O3); it will never be paid.")
class OrderCanceledV1(EventData):
    order_id: str
    buyer_id: str | None
    reason: str = Field(description="Why, for people: e.g. 'canceled by the buyer'.")
    lines: list[OrderLineRef] = Field(min_length=1)
    canceled_at: dt.datetime
