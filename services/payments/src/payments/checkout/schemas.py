from __future__ import annotations

from pydantic import BaseModel, Field


class CheckoutStart(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    order_token: str | None = Field(None, max_length=200, description="A guest order's ?t= token (O1).")


class CheckoutStarted(BaseModel):
    order_id: str
    payment_required: bool = Field(description="False: the order was free and is paid already (O3); no Stripe.")
    checkout_session_id: str | None = None
    url: str | None = Field(None, description="Stripe's hosted Checkout page to send the buyer to.")
