"""Claiming passes in a window at flash-sale speed: three desks, one guarantee.

Exactly ``total`` passes are ever granted in a window, one per person, repeat claims answer the
same, and a granted pass is never lost. Which desk serves depends on the deployment:

- ``LocalClaimDesk`` (embedded default, SQLite, one process): decisions are made in memory by
  this process alone (the count starts from the database), and grants are group-committed every
  few milliseconds; a claimant hears "granted" only after its grant is committed.
- ``RedisClaimDesk`` (``MITALK_REDIS_URL`` set, any number of API processes): one atomic Lua
  script checks the window, the person and the remaining count and takes the pass; the same
  script appends the grant to a Redis stream, which a consumer in every API process applies to
  the database (idempotently) and acknowledges only after the commit. Redis must persist
  (appendonly) for grants to survive a Redis crash.
- ``SqlClaimDesk`` (PostgreSQL without Redis): one transaction per claim, exact under
  concurrency through a conditional UPDATE of the window's count (slower, but no extra parts).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from mitalk.access import repository as repo
from mitalk.access import service
from mitalk.access.models import PassWindow
from mitalk.accounts.models import User
from mitalk.core.database import Database, unit_of_work
from mitalk.core.settings import Settings

log = structlog.get_logger(__name__)

Granted = Literal["granted"]
# A window that can still grant is trusted for this long (an early close shows within it);
# "closed" or "sold out" is re-read sooner, so a newly opened window is seen within 20 ms.
WINDOW_REFRESH = dt.timedelta(milliseconds=500)
WINDOW_RECHECK = dt.timedelta(milliseconds=20)


class ClaimDesk(Protocol):
    """Takes claims of passes in the open window."""

    async def claim(self, user: User, now: dt.datetime) -> Granted:
        """Grant this person a pass, or raise SoldOut / WindowClosed / AlreadyMember."""
        ...

    async def start(self) -> None:
        """Start background work (writers, consumers)."""
        ...

    async def close(self) -> None:
        """Finish what is in flight and stop."""
        ...


class GrantsRefused(Exception):
    """The database would not take these grants: the window closed or has no passes left."""


async def apply_grants(
    db: Database, settings: Settings, window_id: str, user_ids: list[str], now: dt.datetime, record_all: bool
) -> tuple[list[str], list[str]]:
    """Make grants durable in one transaction; returns (recorded, refused people).

    Replays are harmless: people who already hold a pass are skipped. With ``record_all`` (the
    Redis desk, which already counted the passes off atomically) every grant is recorded, even
    for someone let in meanwhile by other means. Otherwise the database is the final arbiter:
    the window's count is taken in one conditional UPDATE, and if the window closed or would
    go over its total, nothing is recorded and ``GrantsRefused`` is raised.
    """
    async with unit_of_work(db) as session:
        unique = list(dict.fromkeys(user_ids))
        holders = await repo.users_with_grants(session, unique)
        fresh = [uid for uid in unique if uid not in holders]
        waiting = await repo.take_waiting(session, fresh, f"window:{window_id}", now) if fresh else []
        recorded = fresh if record_all else waiting
        if not record_all and recorded and not await repo.count_off_passes(session, window_id, len(recorded), now):
            raise GrantsRefused(window_id)
        if waiting:
            await repo.activate_users(session, waiting, "window", settings.default_invites, now)
            await service.notify_admitted(session, waiting, now)
        await repo.add_grants(session, window_id, recorded, now, counted=not record_all)
    recorded_set = set(recorded)
    return recorded, [uid for uid in fresh if uid not in recorded_set]


async def _window_now(db: Database, now: dt.datetime) -> PassWindow | None:
    """The window open at ``now`` (read without taking a write lock)."""
    async with db.read_sessions() as session:
        for window in await repo.unfinished_windows(session, now):
            if window.opens_at <= now:
                return window
        return None


async def _closed_reason(db: Database, now: dt.datetime) -> Exception:
    async with db.read_sessions() as session:
        latest = await repo.latest_window(session, now)
    if latest is not None and latest.granted >= latest.total:
        return service.SoldOut()
    return service.WindowClosed()


async def _holds_pass(db: Database, user: User) -> bool:
    async with db.read_sessions() as session:
        return await repo.grant_of(session, user.id) is not None


@dataclass
class _OpenWindow:
    """A window as the local desk tracks it: the database's record plus what is in flight."""

    id: str
    total: int
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    remaining: int
    granted: set[str]
    inflight: dict[str, asyncio.Future[Granted]] = field(default_factory=dict)

    def is_open(self, now: dt.datetime) -> bool:
        return self.opens_at <= now and (self.closes_at is None or now < self.closes_at)


class LocalClaimDesk:
    """One process decides in memory and group-commits; correct while it is the only claimer."""

    def __init__(
        self, db: Database, settings: Settings, flush_every: float = 0.005, max_batch: int = 2000
    ) -> None:
        self.db, self.settings = db, settings
        self.flush_every, self.max_batch = flush_every, max_batch
        self._window: _OpenWindow | None = None
        self._checked_at: dt.datetime | None = None
        self._refresh_lock = asyncio.Lock()
        self._queue: list[tuple[str, str, asyncio.Future[Granted], dt.datetime]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        while self._flusher is not None and not self._flusher.done():
            await self._flusher

    def _fresh(self, now: dt.datetime) -> bool:
        if self._checked_at is None:
            return False
        usable = self._window is not None and self._window.remaining > 0 and self._window.is_open(now)
        return now - self._checked_at < (WINDOW_REFRESH if usable else WINDOW_RECHECK)

    async def _current(self, now: dt.datetime) -> _OpenWindow | None:
        if self._fresh(now):
            return self._window
        async with self._refresh_lock:
            if self._fresh(now):
                return self._window
            record = await _window_now(self.db, now)
            if record is None:
                # No window is open in the database; keep ours only while grants are in flight.
                if self._window is not None and not self._window.inflight:
                    self._window = None
            elif self._window is None or self._window.id != record.id:
                async with self.db.read_sessions() as session:
                    granted = await repo.granted_users(session, record.id)
                self._window = _OpenWindow(
                    record.id, record.total, record.opens_at, record.closes_at,
                    remaining=record.total - len(granted), granted=granted,
                )
            else:
                self._window.closes_at = record.closes_at  # the operator may close it early
            self._checked_at = now
            return self._window

    async def claim(self, user: User, now: dt.datetime) -> Granted:
        window = await self._current(now)
        if window is not None and user.id in window.granted:
            return "granted"
        if window is not None and user.id in window.inflight:
            return await asyncio.shield(window.inflight[user.id])
        if user.status == "active":
            if await _holds_pass(self.db, user):
                return "granted"
            raise service.AlreadyMember("You are already a member: no pass needed.")
        if window is None or not window.is_open(now):
            raise await _closed_reason(self.db, now)
        if window.remaining <= 0:
            raise service.SoldOut()
        window.remaining -= 1
        future: asyncio.Future[Granted] = asyncio.get_running_loop().create_future()
        window.inflight[user.id] = future
        self._queue.append((window.id, user.id, future, now))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await asyncio.shield(future)

    async def _flush_loop(self) -> None:
        while self._queue:
            await asyncio.sleep(self.flush_every)  # let a batch gather: one commit for many
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._flush(batch)

    async def _flush(self, batch: list[tuple[str, str, asyncio.Future[Granted], dt.datetime]]) -> None:
        window = self._window
        by_window: dict[str, list[tuple[str, asyncio.Future[Granted], dt.datetime]]] = {}
        for window_id, uid, fut, at in batch:
            by_window.setdefault(window_id, []).append((uid, fut, at))
        for window_id, items in by_window.items():
            try:
                recorded, refused = await apply_grants(
                    self.db, self.settings, window_id, [u for u, _, _ in items], items[-1][2], record_all=False
                )
            except GrantsRefused:
                # The window closed (or was counted off elsewhere) under us: look again.
                self._checked_at = None
                reason = await _closed_reason(self.db, items[-1][2])
                for uid, fut, _ in items:
                    self._settle(window, window_id, uid, fut, reason)
                continue
            except Exception as exc:  # noqa: BLE001 - nothing was committed: give the passes back
                log.exception("claim_flush_failed", window=window_id, claims=len(items))
                for uid, fut, _ in items:
                    self._settle(window, window_id, uid, fut, exc)
                continue
            refused_set = set(refused)
            for uid, fut, _ in items:
                if uid in refused_set:
                    self._settle(window, window_id, uid, fut, service.AlreadyMember("You were let in meanwhile: no pass needed."))
                else:
                    if window is not None and window.id == window_id:
                        window.granted.add(uid)
                        window.inflight.pop(uid, None)
                    if not fut.done():
                        fut.set_result("granted")

    @staticmethod
    def _settle(
        window: _OpenWindow | None, window_id: str, uid: str, fut: asyncio.Future[Granted], exc: Exception
    ) -> None:
        if window is not None and window.id == window_id:
            window.remaining += 1
            window.inflight.pop(uid, None)
        if not fut.done():
            fut.set_exception(exc)


class SqlClaimDesk:
    """One database transaction per claim (PostgreSQL without Redis)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def claim(self, user: User, now: dt.datetime) -> Granted:
        async with unit_of_work(self.db) as session:
            fresh = await session.get(User, user.id)
            assert fresh is not None
            return await service.claim_pass(session, self.settings, fresh, now)


_CLAIM_SCRIPT = """
-- KEYS: window hash, claimed set, grant stream
-- ARGV: user, now_ms, total, granted_in_db, opens_ms, closes_ms (-1: none), window id
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'remaining', tonumber(ARGV[3]) - tonumber(ARGV[4]))
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'granted' end
local now = tonumber(ARGV[2])
local closes = tonumber(ARGV[6])
if now < tonumber(ARGV[5]) or (closes >= 0 and now >= closes) then return 'closed' end
if tonumber(redis.call('HGET', KEYS[1], 'remaining')) <= 0 then return 'sold_out' end
redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], '*', 'window', ARGV[7], 'user', ARGV[1], 'at', ARGV[2])
return 'granted'
"""

GRANT_STREAM = "mitalk:grants"
GRANT_GROUP = "mitalk-grant-writers"


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisClaimDesk:
    """Redis decides atomically (shared by every API process); a stream carries grants to SQL."""

    def __init__(
        self, db: Database, settings: Settings, redis: Redis, clock: Callable[[], dt.datetime]
    ) -> None:
        self.db, self.settings, self.redis, self.clock = db, settings, redis, clock
        self._script = redis.register_script(_CLAIM_SCRIPT)
        self._window: PassWindow | None = None
        self._checked_at: dt.datetime | None = None
        self._refresh_lock = asyncio.Lock()
        self._consumer_name = f"{socket.gethostname()}-{os.getpid()}"
        self._stop = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self.redis.xgroup_create(GRANT_STREAM, GRANT_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._consumer = asyncio.create_task(self._consume())

    async def close(self) -> None:
        self._stop.set()
        if self._consumer is not None:
            await asyncio.gather(self._consumer, return_exceptions=True)

    def _fresh(self, now: dt.datetime) -> bool:
        limit = WINDOW_REFRESH if self._window is not None else WINDOW_RECHECK
        return self._checked_at is not None and now - self._checked_at < limit

    async def _current(self, now: dt.datetime) -> PassWindow | None:
        # Redis knows the remaining count; the database says which window is open and until when.
        # One refresh at a time: without the lock every claim in flight re-reads it at once.
        if self._fresh(now):
            return self._window
        async with self._refresh_lock:
            if not self._fresh(now):
                self._window = await _window_now(self.db, now)
                self._checked_at = now
        return self._window

    async def claim(self, user: User, now: dt.datetime) -> Granted:
        window = await self._current(now)
        if window is None:
            if user.status == "active" and await _holds_pass(self.db, user):
                return "granted"
            if user.status == "active":
                raise service.AlreadyMember("You are already a member: no pass needed.")
            raise await _closed_reason(self.db, now)
        keys = [f"mitalk:win:{window.id}", f"mitalk:win:{window.id}:claimed", GRANT_STREAM]
        args: list[str | int] = [
            user.id, _ms(now), window.total, window.granted, _ms(window.opens_at),
            _ms(window.closes_at) if window.closes_at else -1, window.id,
        ]
        if user.status == "active":
            # Members only ever hear "granted" if they won a pass; they never take one.
            if await self.redis.sismember(keys[1], user.id) or await _holds_pass(self.db, user):
                return "granted"
            raise service.AlreadyMember("You are already a member: no pass needed.")
        answer = (await self._script(keys=keys, args=args)).decode()
        if answer == "granted":
            return "granted"
        if answer == "sold_out":
            raise service.SoldOut()
        raise service.WindowClosed()

    async def drain(self, timeout: float = 30) -> int:
        """Wait until every grant in the stream is in the database (tests, benchmarks, shutdown).

        Returns how many this call applied itself; the background consumer may apply others.
        """
        total = 0
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            applied = await self._consume_once(block_ms=None)
            total += applied
            info: Any = await self.redis.xpending(GRANT_STREAM, GRANT_GROUP)
            groups: Any = await self.redis.xinfo_groups(GRANT_STREAM)
            lag = next((g.get("lag") for g in groups if g["name"].decode() == GRANT_GROUP), 0) or 0
            if not applied and int(info["pending"]) == 0 and int(lag) == 0:
                return total
            await asyncio.sleep(0.01)
        raise TimeoutError("grants are still waiting in the Redis stream")

    async def _consume(self) -> None:
        while not self._stop.is_set():
            try:
                await self._consume_once(block_ms=100)
            except Exception:  # noqa: BLE001 - keep consuming after a passing failure
                log.exception("grant_consumer_error")
                await asyncio.sleep(0.5)

    async def _consume_once(self, block_ms: int | None) -> int:
        # Entries another (crashed) process read but never acknowledged come back after 2 s.
        claimed: Any = await self.redis.xautoclaim(
            GRANT_STREAM, GRANT_GROUP, self._consumer_name, min_idle_time=2000, start_id="0-0", count=1000
        )
        entries: list[Any] = list(claimed[1])
        if not entries:
            read: Any = await self.redis.xreadgroup(
                GRANT_GROUP, self._consumer_name, {GRANT_STREAM: ">"}, count=2000, block=block_ms
            )
            entries = [entry for _, batch in read for entry in batch] if read else []
        if not entries:
            return 0
        by_window: dict[str, list[str]] = {}
        for _, fields in entries:
            by_window.setdefault(fields[b"window"].decode(), []).append(fields[b"user"].decode())
        for window_id, users in by_window.items():
            await apply_grants(self.db, self.settings, window_id, users, self.clock(), record_all=True)
        await self.redis.xack(GRANT_STREAM, GRANT_GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)


def make_claim_desk(
    db: Database, settings: Settings, redis: Redis | None, clock: Callable[[], dt.datetime]
) -> ClaimDesk:
    """The desk this deployment needs (see the module's docstring)."""
    if redis is not None:
        return RedisClaimDesk(db, settings, redis, clock)
    if db.is_sqlite:
        return LocalClaimDesk(db, settings)
    return SqlClaimDesk(db, settings)
