"""Fixed-window rate limits with numbers: in-process for the embedded default, Redis at scale.

One process (the embedded default) keeps its counters in memory; as soon as several API nodes
run, ``MITALK_REDIS_URL`` must be set so that every node counts against the same limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from mitalk.core.errors import RateLimited


def subject_key(bucket: str, subject: str) -> str:
    """The Redis key prefix of one (bucket, subject) counter (the window's start follows)."""
    # Subjects are phone numbers and addresses: keep them out of the store in clear.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"mitalk:rl:{bucket}:{digest}"


def network_of(address: str) -> str:
    """The client network a limit counts against: an IPv6 address's /64, an IPv4 address itself.

    One IPv6 subscriber usually gets a whole /64 (often a /56 or /48), so counting each /128
    apart would give one machine 2**64 budgets; an IPv4 address counts alone (/32), because
    whole /24s sit behind one carrier's NAT pool and would share one budget with strangers.
    IPv4-mapped IPv6 addresses count as their IPv4 address; anything unparsable as itself.
    """
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


@dataclass(frozen=True)
class Charge:
    """One counter a ``take`` must find room in: at most ``limit`` per ``window`` seconds."""

    bucket: str
    subject: str
    limit: int
    window: int


class RateLimiter(Protocol):
    """Counts hits per (bucket, subject) and refuses past ``limit`` within ``window`` seconds."""

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        """Count one hit; raise ``RateLimited`` (with the wait in seconds) when over the limit."""
        ...

    async def take(self, charges: Sequence[Charge]) -> None:
        """Count one against every charge if each has room, atomically; else count nothing and
        raise ``RateLimited`` with the longest wait among the full ones (a budget that counts
        only what it lets through, such as the text messages actually sent)."""
        ...

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        ...


class MemoryRateLimiter:
    """Counters in this process's memory; correct only while one process serves.

    Each counter's end of window goes on a heap when the counter is made, and every call first
    drops the counters whose window has ended: the table holds only live counters and is never
    rebuilt or scanned (a table rebuilt on every hit once it held 100,000 live counters made
    each hit cost a pass over all of them).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._counters: dict[str, tuple[int, int]] = {}
        self._ends: list[tuple[int, str]] = []  # (end of window, key), a heap
        self._lock = asyncio.Lock()

    def _drop_ended(self, now: int) -> None:
        while self._ends and self._ends[0][0] <= now:
            _, key = heapq.heappop(self._ends)
            self._counters.pop(key, None)

    def _counter(self, key: str, end: int) -> tuple[int, int]:
        found = self._counters.get(key)
        if found is None:
            heapq.heappush(self._ends, (end, key))
            return end, 0
        return found

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        now = int(self.clock())
        start = now - now % window
        key = f"{subject_key(bucket, subject)}:{start}"
        # No lock: nothing here awaits, so no other coroutine runs in between (a lock cost a
        # claim of the rush more than the count itself).
        self._drop_ended(now)
        expires, count = self._counter(key, start + window)
        count += 1
        self._counters[key] = (expires, count)
        if count > limit:
            raise RateLimited(expires - now)

    async def take(self, charges: Sequence[Charge]) -> None:
        now = int(self.clock())
        async with self._lock:
            self._drop_ended(now)
            keyed = []
            waits = []
            for charge in charges:
                start = now - now % charge.window
                key = f"{subject_key(charge.bucket, charge.subject)}:{start}"
                expires, count = self._counters.get(key, (start + charge.window, 0))
                if count >= charge.limit:
                    waits.append(expires - now)
                keyed.append((key, expires, count))
            if waits:
                raise RateLimited(max(waits))
            for key, expires, _ in keyed:
                _, count = self._counter(key, expires)
                self._counters[key] = (expires, count + 1)

    @property
    def size(self) -> int:
        """How many counters are held (live ones only, see above)."""
        return len(self._counters)

    async def reset(self) -> None:
        async with self._lock:
            self._counters.clear()
            self._ends.clear()


_INCR_SCRIPT = """
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {c, redis.call('TTL', KEYS[1])}
"""


# All or nothing: if any counter is at its limit, count none and answer the longest wait;
# else count one on each. KEYS: the counters; ARGV: limit and window of each, in turn.
_TAKE_SCRIPT = """
local wait = 0
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= limit then
    local ttl = redis.call('TTL', key)
    if ttl <= 0 then ttl = window end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[2 * i]) end
end
return 0
"""


class RedisRateLimiter:
    """Counters in Redis, shared by every API node; one atomic script call per hit."""

    def __init__(self, redis: Redis, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.clock = clock
        self._script = redis.register_script(_INCR_SCRIPT)
        self._take = redis.register_script(_TAKE_SCRIPT)

    async def hit(self, bucket: str, subject: str, limit: int, window: int) -> None:
        now = int(self.clock())
        key = f"{subject_key(bucket, subject)}:{now - now % window}"
        count, ttl = await self._script(keys=[key], args=[window])
        if int(count) > limit:
            raise RateLimited(int(ttl) if int(ttl) > 0 else window)

    async def take(self, charges: Sequence[Charge]) -> None:
        now = int(self.clock())
        keys = [
            f"{subject_key(c.bucket, c.subject)}:{now - now % c.window}" for c in charges
        ]
        args = [n for c in charges for n in (c.limit, c.window)]
        # In Redis Cluster these keys would need one hash slot; one Redis (the design) is fine.
        wait = int(await self._take(keys=keys, args=args))
        if wait > 0:
            raise RateLimited(wait)

    async def reset(self) -> None:
        async for key in self.redis.scan_iter(match="mitalk:rl:*", count=1000):
            await self.redis.delete(key)
