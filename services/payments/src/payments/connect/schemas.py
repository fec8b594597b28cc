from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

from homecraft_shared.inputs import Line


class ConnectStart(BaseModel):
    email: Annotated[Line, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = Field(
        None, description="The seller's email (I2); required unless already on file.")


class ConnectStatus(BaseModel):
    seller_id: str
    stripe_account_id: str | None
    details_submitted: bool
    charges_enabled: bool
    payouts_enabled: bool
    ready: bool
    onboarding_started_at: dt.datetime | None
    onboarding_completed_at: dt.datetime | None


class OnboardingLink(BaseModel):
    url: str
    status: ConnectStatus
