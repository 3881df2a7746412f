"""Fixed-window rate limits with numbers: in-process for the embedded default, Redis at scale.

One process (the embedded default) keeps its counters in memory; as soon as several API nodes
run, ``MITALK_REDIS_URL`` must be set so that every node counts against the same limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import Redis

from mitalk.core.errors import RateLimited


def _subject_key(bucket: str, subject: str) -> str:
    # Subjects are phone numbers and addresses: keep them out of the store in clear.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"mitalk:rl:{bucket}:{digest}"


class RateLimiter(Protocol):
    """Counts hits per (bucket, subject) and refuses past ``limit`` within ``window`` seconds."""

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        """Count one hit; raise ``RateLimited`` (with the wait in seconds) when over the limit."""
        ...

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        ...


class MemoryRateLimiter:
    """Counters in this process's memory; correct only while one process serves."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, int]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        now = int(time.time())
        start = now - now % window
        key = f"{_subject_key(bucket, subject)}:{start}"
        async with self._lock:
            if len(self._counters) > 100_000:
                self._counters = {k: v for k, v in self._counters.items() if v[0] > now}
            expires, count = self._counters.get(key, (start + window, 0))
            count += 1
            self._counters[key] = (expires, count)
        if count > limit:
            raise RateLimited(expires - now)

    async def reset(self) -> None:
        async with self._lock:
            self._counters.clear()


_INCR_SCRIPT = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('TTL', KEYS[1])}
"""


class RedisRateLimiter:
    """Counters in Redis, shared by every API node; one atomic script call per hit."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self._script = redis.register_script(_INCR_SCRIPT)

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        now = int(self.clock())
        key = f"{_subject_key(bucket, subject)}:{now - now % window}"
        count, ttl = await self._script(keys=[key], args=[window])
        if int(count) > limit:
            raise RateLimited(int(ttl) if int(ttl) > 0 else window)

    async def reset(self) -> None:
        async for key in self.redis.scan_iter(match="mitalk:rl:*", count=1000):
            await self.redis.delete(key)
