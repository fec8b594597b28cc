from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from homecraft_shared.inputs import Line, Omittable

Country = Annotated[Line, Field(min_length=2, max_length=2)]


class SiteConfigOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    marketplace_percent: Decimal = Field(description="0-100, two decimals (S1).")
    default_currency: str
    allowed_countries: list[str]
    updated_at: dt.datetime
    updated_by: str | None


class SiteConfigUpdate(BaseModel):
    """S1: every field optional; the percent is clamped to 0-100, countries upper-cased."""

    model_config = ConfigDict(extra="forbid")

    # Each may be left out (unchanged), not sent as null (homecraft_shared.inputs.Omittable).
    marketplace_percent: Omittable[Decimal] = Field(default=None, allow_inf_nan=False, max_digits=7, decimal_places=2)
    default_currency: Omittable[Line] = Field(default=None, pattern=r"^[A-Za-z]{3}$")
    allowed_countries: Omittable[list[Country]] = Field(default=None, min_length=1, max_length=250)

    @field_validator("default_currency")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        upper = [country.strip().upper() for country in value]
        bad = [c for c in upper if len(c) != 2 or not c.isascii() or not c.isalpha()]
        if bad:
            raise ValueError(f"not two-letter country codes: {', '.join(bad)}")
        return list(dict.fromkeys(upper))
