"""C7, free of the web framework and the database: the trending score, its window, its parts,
the order of equal scores and the badge rule.

score = 6·purchases + 3·add_to_cart + 1.25·clicks + 2·reviews + 0.25·views + 1·avg_rating

Counts are of distinct events in the window (each purchased order line, accepted engagement event
and review counted once; see docs/decisions/0502). The window is day-granular: the 30 UTC days
ending today, so an event of day D counts until the end of day D+29. The average rating is the
product's all-time average (the one its card shows), as in the seed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

WINDOW_DAYS = 30
BADGE_TOP_N = 12  # C7: the badge goes to the top 12 by score with a score above 0
SCORE_DECIMALS = 6  # scores are compared and published at this precision

WEIGHTS: dict[str, float] = {
    "purchases": 6.0,
    "add_to_cart": 3.0,
    "clicks": 1.25,
    "reviews": 2.0,
    "views": 0.25,
}
AVG_RATING_WEIGHT = 1.0
SIGNALS = tuple(WEIGHTS)


@dataclass(frozen=True)
class Counts:
    views: int = 0
    clicks: int = 0
    add_to_cart: int = 0
    purchases: int = 0
    reviews: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, name) + getattr(other, name) for name in ("views", "clicks", "add_to_cart",
                                                                                  "purchases", "reviews")))

    def get(self, signal: str) -> int:
        return int(getattr(self, signal))


def window_start(today: dt.date) -> dt.date:
    """The first day in the window ending ``today`` (inclusive): 30 days in all."""
    return today - dt.timedelta(days=WINDOW_DAYS - 1)


def in_window(day: dt.date, today: dt.date) -> bool:
    return window_start(today) <= day <= today


def score(counts: Counts, avg_rating: float) -> float:
    total = sum(WEIGHTS[signal] * counts.get(signal) for signal in SIGNALS) + AVG_RATING_WEIGHT * avg_rating
    return round(total, SCORE_DECIMALS)


def average(rating_sum: int, rating_count: int) -> float:
    return rating_sum / rating_count if rating_count else 0.0


@dataclass(frozen=True)
class Part:
    signal: str
    count: float  # the average itself for "avg_rating"
    weight: float
    contribution: float


def parts(counts: Counts, avg_rating: float) -> list[Part]:
    """Each signal's count, weight and weighted contribution; their contributions add up to ``score``."""
    result = [
        Part(signal, counts.get(signal), WEIGHTS[signal], round(WEIGHTS[signal] * counts.get(signal), SCORE_DECIMALS))
        for signal in SIGNALS
    ]
    result.append(Part("avg_rating", round(avg_rating, SCORE_DECIMALS), AVG_RATING_WEIGHT,
                       round(AVG_RATING_WEIGHT * avg_rating, SCORE_DECIMALS)))
    return result


def day_contribution(counts: Counts) -> float:
    """What one day's events add to the score (the average rating is not per day)."""
    return round(sum(WEIGHTS[signal] * counts.get(signal) for signal in SIGNALS), SCORE_DECIMALS)


@dataclass(frozen=True)
class Ranked:
    product_id: str
    score: float
    avg_rating: float
    first_published_at: dt.datetime | None


def _newest_key(ranked: Ranked) -> float:
    return ranked.first_published_at.timestamp() if ranked.first_published_at else float("-inf")


def rank(products: Iterable[Ranked]) -> list[Ranked]:
    """C7 order: score, then average rating, then newest first (then id, for a stable order)."""
    by_id = sorted(products, key=lambda r: r.product_id, reverse=True)
    return sorted(by_id, key=lambda r: (r.score, r.avg_rating, _newest_key(r)), reverse=True)


def badge_ids(ranked: Sequence[Ranked], top_n: int = BADGE_TOP_N) -> list[str]:
    """C7 badge (computed part): the top ``top_n`` of a ranked list, only those scoring above 0."""
    return [r.product_id for r in ranked[:top_n] if r.score > 0]


def changed(old: float | None, new: float) -> bool:
    """Whether a newly computed score must be published (the first score of a product only if above 0)."""
    if old is None:
        return new > 0
    return round(old, SCORE_DECIMALS) != round(new, SCORE_DECIMALS)
