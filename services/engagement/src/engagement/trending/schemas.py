"""Trending response bodies (C7)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class TrendingItem(BaseModel):
    product_id: str
    score: float
    avg_rating: float
    badge: bool  # C7: in the top 12 with a score above 0 (catalog adds the manual flag)


class TrendingList(BaseModel):
    window_days: int
    items: list[TrendingItem]


class SignalPart(BaseModel):
    signal: str
    count: float
    weight: float
    contribution: float


class DayPart(BaseModel):
    day: dt.date
    views: int
    clicks: int
    add_to_cart: int
    purchases: int
    reviews: int
    contribution: float


class TrendingExplanation(BaseModel):
    """Why a product is (or is not) trending: each signal's count and weighted contribution over the
    window, and the day-by-day trend."""

    product_id: str
    score: float  # computed now, from the parts below
    published_score: float  # what catalog was last told (at most one refresh interval behind)
    badge: bool
    window_first_day: dt.date
    window_last_day: dt.date
    parts: list[SignalPart]
    days: list[DayPart]
