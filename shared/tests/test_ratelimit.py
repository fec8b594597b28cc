"""The rate-limit mechanism: limits per key on a moving window, a 429 with Retry-After past them."""

from __future__ import annotations

import pytest

from homecraft_shared.ratelimit import RateLimited, RateLimiter


async def test_each_key_gets_its_own_allowance_and_the_strictest_limit_applies() -> None:
    limiter = RateLimiter("2/minute;3/hour", what="posts")
    await limiter.hit("post", "u1")
    await limiter.hit("post", "u1")
    with pytest.raises(RateLimited) as raised:
        await limiter.hit("post", "u1")
    assert raised.value.status_code == 429
    assert 1 <= raised.value.retry_after <= 60
    assert raised.value.headers == {"Retry-After": str(raised.value.retry_after)}
    assert "Too many posts: at most 2 per minute" in raised.value.detail
    await limiter.hit("post", "u2")  # another key is not affected


def test_a_spec_without_limits_is_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter("")
