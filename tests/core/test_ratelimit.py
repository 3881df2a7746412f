"""Rate limits, in memory and in a real Redis: the limit holds, the wait is told, keys are apart."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.asyncio import Redis

from mitalk.core.errors import RateLimited
from mitalk.core.ratelimit import Charge, MemoryRateLimiter, RateLimiter, RedisRateLimiter


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


async def exercise_take(limiter: RateLimiter) -> None:
    """``take`` counts on every charge or on none: a full one refuses without spending others."""
    phone = Charge("sms-phone", "+4915123456789", limit=2, window=60)
    country = Charge("sms-country", "DE", limit=3, window=60)
    await limiter.take([phone, country])
    await limiter.take([phone, country])
    with pytest.raises(RateLimited) as caught:
        await limiter.take([phone, country])  # the number is full
    assert 1 <= caught.value.retry_after <= 60
    # The refused take spent nothing: the country has exactly one left.
    other = Charge("sms-phone", "+4915123456780", limit=2, window=60)
    await limiter.take([other, country])
    with pytest.raises(RateLimited):
        await limiter.take([Charge("sms-phone", "+4915100000001", 2, 60), country])
    # Concurrent takes never let more than the tightest limit through.
    pair = [Charge("burst", "x", 7, 60), Charge("b2", "y", 100, 60)]
    results = await asyncio.gather(
        *(limiter.take(pair) for _ in range(30)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 7


async def test_memory_take_is_all_or_nothing() -> None:
    await exercise_take(MemoryRateLimiter())


async def test_redis_take_is_all_or_nothing_and_shared(redis_url: str) -> None:
    one, two = Redis.from_url(redis_url), Redis.from_url(redis_url)
    mid_window = (time.time() // 60) * 60 + 30
    try:
        await exercise_take(RedisRateLimiter(one, clock=lambda: mid_window))
        shared = Charge("sms-all", "all", limit=1, window=60)
        await RedisRateLimiter(one, clock=lambda: mid_window).take([shared])
        with pytest.raises(RateLimited):  # another node sees the same budget
            await RedisRateLimiter(two, clock=lambda: mid_window).take([shared])
    finally:
        await one.aclose()
        await two.aclose()


async def test_memory_rate_limiter_holds_only_live_counters_and_never_rebuilds_its_table() -> None:
    """Counters whose window ended are dropped as time passes (not kept until 100,000 pile up),
    and past 100,000 live counters a hit still only touches its own (the old table was rebuilt,
    a pass over every counter, on every hit from then on)."""
    now = [1_800_000_000.0]  # a multiple of 3600: every window starts here
    limiter = MemoryRateLimiter(clock=lambda: now[0])
    for n in range(1000):
        await limiter.hit("minute", f"198.51.100.{n}", limit=5, window=60)
    await limiter.hit("hour", "203.0.113.7", limit=2, window=3600)
    assert limiter.size == 1001
    now[0] += 61
    await limiter.hit("hour", "203.0.113.7", limit=2, window=3600)
    assert limiter.size == 1  # the minute's counters are gone; the hour's still counts
    with pytest.raises(RateLimited):
        await limiter.hit("hour", "203.0.113.7", limit=2, window=3600)

    table = limiter._counters
    for n in range(110_000):
        await limiter.hit("hour", f"2001:db8::{n:x}", limit=1, window=3600)
    assert limiter.size == 110_001
    assert limiter._counters is table  # grown in place, never rebuilt
    with pytest.raises(RateLimited):  # every live counter still counts
        await limiter.hit("hour", "2001:db8::0", limit=1, window=3600)
    await limiter.take([Charge("hour", "2001:db8:1::", limit=1, window=3600)])
    now[0] += 3600
    await limiter.hit("hour", "2001:db8::0", limit=1, window=3600)
    assert limiter.size == 1
