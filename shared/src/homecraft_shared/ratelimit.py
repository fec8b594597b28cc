"""Per-key rate limits (abuse controls) with the `limits` library: a clear 429 when exceeded.

``RateLimiter("5/minute;30/hour")`` holds one or more limits (the ``limits`` notation) on a moving
window. ``await limiter.hit("qa-post", user_id)`` counts one action of that key and raises a 429
problem (with ``Retry-After``) when any limit is exceeded. Storage is per process by default
(``async+memory://``); with several replicas, give a shared ``limits`` storage URI (e.g.
``async+redis://...``) so the limit holds across them. A mechanism only: which actions are limited,
and how much, is each service's business.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.exceptions import HTTPException


class RateLimited(HTTPException):
    """429, rendered as problem+json by the shared error handlers, with ``Retry-After`` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(status_code=429, detail=detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class RateLimiter:
    def __init__(self, spec: str, *, storage_uri: str = "async+memory://", what: str = "requests") -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        if not self.items:
            raise ValueError(f"no rate limit in {spec!r}")
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))
        self._what = what

    async def hit(self, *key: str) -> None:
        """Count one action of ``key``; raise ``RateLimited`` when a limit is already used up."""
        for item in self.items:
            if not await self._limiter.test(item, *key):
                stats = await self._limiter.get_window_stats(item, *key)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    f"Too many {self._what}: at most {item.amount} per {_period(item)}. Try again in {retry} seconds.",
                    retry,
                )
        for item in self.items:
            await self._limiter.hit(item, *key)


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"
