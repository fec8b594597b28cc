"""Seller analytics bodies (roadmap phase 5)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Figures(BaseModel):
    views: int = 0
    clicks: int = 0
    add_to_cart: int = 0
    purchases: int = 0
    revenue_cents: int = 0
    conversion: float | None = Field(default=None, description="purchases / views; null without views.")


class DayFigures(Figures):
    day: dt.date


class ListingFigures(BaseModel):
    product_id: str
    title: str
    totals: Figures
    days: list[DayFigures] = Field(description="Days with any activity, oldest first (other days are all zero).")


class SellerAnalytics(BaseModel):
    seller_id: str
    first_day: dt.date
    last_day: dt.date
    totals: Figures
    listings: list[ListingFigures]
