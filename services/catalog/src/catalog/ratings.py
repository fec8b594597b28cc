"""Rating summaries (C9): an average shown with two decimals, none without ratings.

The catalog keeps only each product's and seller's (sum, count), projected from engagement's
``review.posted`` and ``seller_review.posted`` (catalog.projections).
"""

from __future__ import annotations


def rating_avg(rating_sum: int, rating_count: int) -> float | None:
    return round(rating_sum / rating_count, 2) if rating_count else None
