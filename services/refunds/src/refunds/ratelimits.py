"""Creating refund requests is rate-limited per buyer and per order (abuse control; decision 0601)."""

from __future__ import annotations

from dataclasses import dataclass

from homecraft_shared.ratelimit import RateLimiter


@dataclass(frozen=True)
class RequestRateLimits:
    per_buyer: RateLimiter
    per_order: RateLimiter

    async def hit(self, buyer_key: str, order_id: str) -> None:
        """Count one request; a clear 429 (with Retry-After) when either limit is used up."""
        await self.per_buyer.hit("refund-request-buyer", buyer_key)
        await self.per_order.hit("refund-request-order", order_id)
