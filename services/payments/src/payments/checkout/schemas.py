from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from homecraft_shared.inputs import Line


class CheckoutStart(BaseModel):
    order_id: Annotated[Line, Field(min_length=1, max_length=64)]
    order_token: Annotated[Line, Field(max_length=200)] | None = Field(
        None, description="A guest order's ?t= token (O1); null or absent for a signed-in buyer.")


class CheckoutStarted(BaseModel):
    order_id: str
    payment_required: bool = Field(description="False: the order was free and is paid already (O3); no Stripe.")
    checkout_session_id: str | None = None
    url: str | None = Field(None, description="Stripe's hosted Checkout page to send the buyer to.")
