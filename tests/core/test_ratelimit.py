"""Rate limits, in memory and in a real Redis: the limit holds, the wait is told, keys are private."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from mitalk.core.errors import RateLimited
from mitalk.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter


async def exercise(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("code-phone", "+4915123456789", limit=3, window=60)
    with pytest.raises(RateLimited) as caught:
        await limiter.hit("code-phone", "+4915123456789", limit=3, window=60)
    assert 1 <= caught.value.retry_after <= 60
    assert caught.value.headers["Retry-After"] == str(caught.value.retry_after)
    # Other subjects and other buckets count separately.
    await limiter.hit("code-phone", "+4915123456780", limit=3, window=60)
    await limiter.hit("code-addr", "+4915123456789", limit=3, window=60)
    # Concurrent hits never let more than the limit through.
    results = await asyncio.gather(
        *(limiter.hit("burst", "203.0.113.1", limit=10, window=60) for _ in range(50)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 10
    assert all(isinstance(r, RateLimited) for r in results if r is not None)
    await limiter.reset()
    await limiter.hit("code-phone", "+4915123456789", limit=3, window=60)


async def test_memory_rate_limiter() -> None:
    await exercise(MemoryRateLimiter())


async def test_redis_rate_limiter(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    # Windows are fixed (aligned to the clock): a burst that straddles a boundary rightly counts
    # in two windows, so the test holds the clock mid-window (a loaded machine once took long
    # enough opening 50 connections to cross one).
    mid_window = (time.time() // 60) * 60 + 30
    try:
        await exercise(RedisRateLimiter(redis, clock=lambda: mid_window))
        await RedisRateLimiter(redis).hit("code-phone", "+4915123456789", limit=3, window=60)
        keys = [k.decode() async for k in redis.scan_iter(match="mitalk:rl:*")]
        assert keys and all("+49" not in k for k in keys)  # numbers are not stored in clear
        assert all(0 < ttl <= 60 for ttl in [await redis.ttl(k) for k in keys])
    finally:
        await redis.aclose()


async def test_redis_limits_are_shared_between_nodes(redis_url: str) -> None:
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    try:
        a, b = RedisRateLimiter(one), RedisRateLimiter(two)
        await a.hit("verify-addr", "198.51.100.1", limit=2, window=60)
        await b.hit("verify-addr", "198.51.100.1", limit=2, window=60)
        with pytest.raises(RateLimited):
            await a.hit("verify-addr", "198.51.100.1", limit=2, window=60)
    finally:
        await one.aclose()
        await two.aclose()
