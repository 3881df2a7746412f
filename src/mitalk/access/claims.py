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
  (appendonly) for grants to survive a Redis crash. As soon as a window is announced, one
  process copies the live sessions of its claimants (accounts waiting in line that existed at
  the announcement) into Redis, and the script also counts the address's claims and finds the
  person by token: an HTTP claim is then one Redis call, no SQL. A token not in the copy takes
  the database path; sessions ended since (sign-out, suspension) are refused through a set the
  ending node writes after its commit. A waitlister let in by other means while the window is
  open (a drop, an invite) can still win one of its passes with a copied token: the count stays
  exact, the pass is recorded as theirs.
- ``SqlClaimDesk`` (PostgreSQL without Redis): one transaction per claim, exact under
  concurrency through a conditional UPDATE of the window's count (slower, but no extra parts).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from mitalk.access import errors, service
from mitalk.access import repository as repo
from mitalk.access.models import PassWindow
from mitalk.accounts import service as accounts_service
from mitalk.accounts.models import User
from mitalk.accounts.service import Claimant
from mitalk.core.database import Database, unit_of_work
from mitalk.core.errors import RateLimited
from mitalk.core.ratelimit import RateLimiter, subject_key
from mitalk.core.scripts import BatchedScript
from mitalk.core.security import hash_token
from mitalk.core.settings import Settings
from mitalk.realtime.bus import EventBus
from mitalk.realtime.events import EventBase
from mitalk.realtime.sockets import SessionsEnded

log = structlog.get_logger(__name__)

Granted = Literal["granted"]
# A window that can still grant is trusted for this long (an early close shows within it);
# "closed" or "sold out" is re-read sooner, so a newly opened window is seen within 20 ms.
WINDOW_REFRESH = dt.timedelta(milliseconds=500)
WINDOW_RECHECK = dt.timedelta(milliseconds=20)
# The Redis desk re-reads an open window in the background this often (see its _current).
REDIS_WINDOW_REFRESH = dt.timedelta(milliseconds=250)


async def claim_with_token(
    desk: ClaimDesk,
    db: Database,
    limiter: RateLimiter,
    settings: Settings,
    token: str | None,
    address: str,
    now: dt.datetime,
) -> Granted:
    """A claim as HTTP takes it: the address's limit, then who it is, then the desk."""
    if isinstance(desk, RedisClaimDesk):
        return await desk.claim_by_token(token, address, limiter, now)
    await limit_claims(limiter, settings, address)
    account = await accounts_service.authenticate_readonly(db, token, now)
    return await desk.claim(account, now)


async def claim_as(
    desk: ClaimDesk,
    limiter: RateLimiter,
    settings: Settings,
    account: Claimant,
    address: str,
    now: dt.datetime,
) -> Granted:
    """A claim by a known account (the account socket's): the address's limit, then the desk;
    on the Redis desk both are one call."""
    if isinstance(desk, RedisClaimDesk):
        return await desk.claim_counted(account, address, limiter, now)
    await limit_claims(limiter, settings, address)
    return await desk.claim(account, now)


async def limit_claims(limiter: RateLimiter, settings: Settings, address: str) -> None:
    """Count one claim from ``address``; raises ``RateLimited`` past the deployment's limit."""
    await limiter.hit(
        "claim-addr", address, settings.claims_per_address, settings.claim_limit_seconds
    )


class ClaimDesk(Protocol):
    """Takes claims of passes in the open window."""

    async def claim(self, user: Claimant, now: dt.datetime) -> Granted:
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
    db: Database,
    settings: Settings,
    window_id: str,
    user_ids: list[str],
    now: dt.datetime,
    record_all: bool,
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
        waiting = (
            await repo.take_waiting(session, fresh, f"window:{window_id}", now) if fresh else []
        )
        recorded = fresh if record_all else waiting
        if (
            not record_all
            and recorded
            and not await repo.count_off_passes(session, window_id, len(recorded), now)
        ):
            raise GrantsRefused(window_id)
        if waiting:
            await repo.activate_users(session, waiting, "window", settings.default_invites, now)
            await service.notify_admitted(session, waiting, now)
        await repo.add_grants(session, window_id, recorded, now, counted=not record_all)
    recorded_set = set(recorded)
    return recorded, [uid for uid in fresh if uid not in recorded_set]


async def _window_now(db: Database, now: dt.datetime) -> PassWindow | None:
    """The window open at ``now``, else the one announced next (read without a write lock).

    A desk keeps the announced window, so the claims of its first instant find it open at
    once: they are the quickest people of a launch, and must not wait for a re-read.
    """
    async with db.read_sessions() as session:
        unfinished = await repo.unfinished_windows(session, now)
    return unfinished[0] if unfinished else None


async def _closed_reason(db: Database, now: dt.datetime) -> Exception:
    async with db.read_sessions() as session:
        latest = await repo.latest_window(session, now)
    if latest is not None and latest.granted >= latest.total:
        return errors.SoldOut()
    return errors.WindowClosed()


async def _holds_pass(db: Database, user: Claimant) -> bool:
    async with db.read_sessions() as session:
        return await repo.grant_of(session, user.id) is not None


@dataclass
class _OpenWindow:
    """A window as the local desk tracks it: the database's record plus what is in flight."""

    id: str
    total: int
    created_at: dt.datetime
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
        usable = (
            self._window is not None and self._window.remaining > 0 and self._window.is_open(now)
        )
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
                    record.id, record.total, record.created_at, record.opens_at, record.closes_at,
                    remaining=record.total - len(granted), granted=granted,
                )
            else:
                self._window.closes_at = record.closes_at  # the operator may close it early
            self._checked_at = now
            return self._window

    async def claim(self, user: Claimant, now: dt.datetime) -> Granted:
        window = await self._current(now)
        if window is not None and user.id in window.granted:
            return "granted"
        if window is not None and user.id in window.inflight:
            return await asyncio.shield(window.inflight[user.id])
        if user.status == "active":
            if await _holds_pass(self.db, user):
                return "granted"
            raise errors.AlreadyMember("You are already a member: no pass needed.")
        if window is None or not window.is_open(now):
            # A socket's view of its account may lag its own grant (the window sold out since).
            if await _holds_pass(self.db, user):
                return "granted"
            raise await _closed_reason(self.db, now)
        if not service.eligible(user, window.created_at):
            raise errors.NotEligible()
        if window.remaining <= 0:
            raise errors.SoldOut()
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

    async def _flush(
        self, batch: list[tuple[str, str, asyncio.Future[Granted], dt.datetime]]
    ) -> None:
        window = self._window
        by_window: dict[str, list[tuple[str, asyncio.Future[Granted], dt.datetime]]] = {}
        for window_id, uid, fut, at in batch:
            by_window.setdefault(window_id, []).append((uid, fut, at))
        for window_id, items in by_window.items():
            try:
                _recorded, refused = await apply_grants(
                    self.db,
                    self.settings,
                    window_id,
                    [u for u, _, _ in items],
                    items[-1][2],
                    record_all=False,
                )
            except GrantsRefused:
                # The window closed (or was counted off elsewhere) under us: look again.
                self._checked_at = None
                reason = await _closed_reason(self.db, items[-1][2])
                for uid, fut, _ in items:
                    self._settle(window, window_id, uid, fut, reason)
                continue
            except Exception as exc:  # nothing was committed: give the passes back
                log.exception("claim_flush_failed", window=window_id, claims=len(items))
                for uid, fut, _ in items:
                    self._settle(window, window_id, uid, fut, exc)
                continue
            refused_set = set(refused)
            for uid, fut, _ in items:
                if uid in refused_set:
                    self._settle(
                        window,
                        window_id,
                        uid,
                        fut,
                        errors.AlreadyMember("You were let in meanwhile: no pass needed."),
                    )
                else:
                    if window is not None and window.id == window_id:
                        window.granted.add(uid)
                        window.inflight.pop(uid, None)
                    if not fut.done():
                        fut.set_result("granted")

    @staticmethod
    def _settle(
        window: _OpenWindow | None,
        window_id: str,
        uid: str,
        fut: asyncio.Future[Granted],
        exc: Exception,
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

    async def claim(self, user: Claimant, now: dt.datetime) -> Granted:
        async with unit_of_work(self.db) as session:
            fresh = await session.get(User, user.id)
            assert fresh is not None
            return await service.claim_pass(session, self.settings, fresh, now)


_CLAIM_SCRIPT = """
-- KEYS: window hash, claimed set, grant stream, token copy, ended sessions, address counter
-- ARGV: user ('' = find it by token), now_ms, total, granted_in_db, opens_ms, closes_ms (-1:
--       none), window id, token hash, address limit (-1: counted already), limit seconds
local now = tonumber(ARGV[2])
local limit = tonumber(ARGV[9])
if limit >= 0 then
  local hits = redis.call('INCR', KEYS[6])
  if hits == 1 then redis.call('EXPIRE', KEYS[6], ARGV[10]) end
  if hits > limit then return {'rate_limited', redis.call('TTL', KEYS[6]), ''} end
end
local user = ARGV[1]
if user == '' then
  -- The window's copy of its claimants' sessions: "user|session|expires_ms" by token hash.
  local entry = redis.call('HGET', KEYS[4], ARGV[8])
  if not entry then return {'unknown', 0, ''} end
  local a = string.find(entry, '|', 1, true)
  local b = string.find(entry, '|', a + 1, true)
  user = string.sub(entry, 1, a - 1)
  if tonumber(string.sub(entry, b + 1)) <= now
      or redis.call('SISMEMBER', KEYS[5], string.sub(entry, a + 1, b - 1)) == 1 then
    return {'unknown', 0, ''}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'remaining', tonumber(ARGV[3]) - tonumber(ARGV[4]))
end
if redis.call('SISMEMBER', KEYS[2], user) == 1 then return {'granted', 0, user} end
local closes = tonumber(ARGV[6])
if now < tonumber(ARGV[5]) or (closes >= 0 and now >= closes) then return {'closed', 0, user} end
if tonumber(redis.call('HGET', KEYS[1], 'remaining')) <= 0 then return {'sold_out', 0, user} end
redis.call('HINCRBY', KEYS[1], 'remaining', -1)
redis.call('SADD', KEYS[2], user)
redis.call('XADD', KEYS[3], '*', 'window', ARGV[7], 'user', user, 'at', ARGV[2])
return {'granted', 0, user}
"""

GRANT_STREAM = "mitalk:grants"
GRANT_GROUP = "mitalk-grant-writers"
# Sessions ended (signed out, suspended) while a copy of tokens may still hold them.
ENDED_SESSIONS = "mitalk:claim-tokens:ended"
COPY_BATCH = 5000
GRANT_TAKEOVER_MS = 10_000


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class RedisClaimDesk:
    """Redis decides atomically (shared by every API process); a stream carries grants to SQL."""

    def __init__(
        self, db: Database, settings: Settings, redis: Redis, clock: Callable[[], dt.datetime]
    ) -> None:
        self.db, self.settings, self.redis, self.clock = db, settings, redis, clock
        # Claims made at once go to Redis together (one pipeline), each still its own run.
        self._script = BatchedScript(redis, _CLAIM_SCRIPT)
        self._window: PassWindow | None = None
        self._checked_at: dt.datetime | None = None
        self._refresh_lock = asyncio.Lock()
        self._consumer_name = f"{socket.gethostname()}-{os.getpid()}"
        self._stop = asyncio.Event()
        self._consumer: asyncio.Task[None] | None = None
        self._copies: dict[str, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        try:
            await self.redis.xgroup_create(GRANT_STREAM, GRANT_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._consumer = asyncio.create_task(self._consume())
        self._watcher = asyncio.create_task(self._watch_windows())

    async def _watch_windows(self) -> None:
        """Look for announced windows every second, so each is copied before it opens."""
        while not self._stop.is_set():
            try:
                await self._current(self.clock())
            except Exception as exc:  # noqa: BLE001 - a database hiccup: look again next time
                log.warning("claim_window_watch_failed", error=repr(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    async def close(self) -> None:
        self._stop.set()
        for task in self._copies.values():
            task.cancel()
        if self._watcher is not None:
            await asyncio.gather(self._watcher, return_exceptions=True)
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)
        if self._consumer is not None:
            await asyncio.gather(self._consumer, *self._copies.values(), return_exceptions=True)

    async def sessions_ended(self, event: EventBase) -> None:
        """Follower of ``account.sessions_ended``: those tokens may no longer claim from a copy."""
        if isinstance(event, SessionsEnded) and event.session_ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(ENDED_SESSIONS, *event.session_ids)
                pipe.expire(ENDED_SESSIONS, 60 * 60 * 24 * 31)  # longer than any session lives
                await pipe.execute()

    def _copy_tokens_of(self, window: PassWindow) -> None:
        """Copy the window's claimants' sessions into Redis (once, by one process of all).

        With the copy a claim is one Redis call: the token is looked up by the same script that
        takes the pass, no SQL read. Only accounts that wait in line and existed when the window
        was announced are copied; a token missing from the copy (a later sign-in, a copy still
        being written) takes the slow path: the database, then the same script.
        """
        if window.id in self._copies:
            return
        self._copies[window.id] = asyncio.create_task(self._write_copy(window))

    async def _write_copy(self, window: PassWindow) -> None:
        key = f"mitalk:win:{window.id}:tokens"
        try:
            if not await self.redis.set(f"{key}:writer", self._consumer_name, nx=True, ex=3600):
                return  # another process writes it
            building, copied = f"{key}:building", 0
            await self.redis.delete(building)
            after = ""
            while True:  # pages in token order (its unique index): no long-held transaction
                async with self.db.read_sessions() as session:
                    page = await repo.claim_tokens_of_waitlisters(
                        session, window.created_at, self.clock(), after, COPY_BATCH
                    )
                if not page:
                    break
                await self.redis.hset(building, mapping={
                    token_hash: f"{user_id}|{session_id}|{_ms(expires)}"
                    for token_hash, user_id, session_id, expires in page
                })
                copied += len(page)
                after = page[-1][0]
            if copied:
                await self.redis.rename(building, key)  # it appears whole, never half-written
                await self.redis.expire(key, 60 * 60 * 24 * 2)
            log.info("claim_tokens_copied", window=window.id, sessions=copied)
        except asyncio.CancelledError:
            raise
        except Exception:  # claims still work without the copy, through the database
            log.exception("claim_tokens_copy_failed", window=window.id)

    def _fresh(self, now: dt.datetime) -> bool:
        limit = REDIS_WINDOW_REFRESH if self._window is not None else WINDOW_RECHECK
        return self._checked_at is not None and now - self._checked_at < limit

    async def _current(self, now: dt.datetime) -> PassWindow | None:
        # Redis knows the remaining count; the database says which window is open and until when.
        # While a window is open and claims keep coming, they never wait for the re-read: it
        # runs in the background every REDIS_WINDOW_REFRESH, and a window known for longer than
        # twice that is read again before use (so an early close shows within 0.5 s). With no
        # window known, a claim waits for the read (every 20 ms at most). A window announced
        # ahead is known before it opens, so its first claims never wait.
        if self._fresh(now):
            return self._window
        recent = (
            self._checked_at is not None and now - self._checked_at < 2 * REDIS_WINDOW_REFRESH
        )
        if self._window is not None and recent:
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh(now))
            return self._window
        # Every claim that must wait awaits the one read in flight: at a window's opening pushed
        # to thousands of sockets they all arrive at once, and queueing each on the lock instead
        # costs O(waiters) per wake-up (asyncio.Lock scans its waiters): O(n^2) in all.
        # A read in flight may have begun long before this claim (the once-a-second watcher's,
        # on a slow database): its answer is too old for a claim made since, so read again.
        for _ in range(2):
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh(now))
            await asyncio.shield(self._refreshing)
            if self._fresh(now):
                break
        return self._window

    async def _refresh(self, now: dt.datetime) -> None:
        # One refresh at a time: without the lock every claim in flight re-reads it at once.
        async with self._refresh_lock:
            if self._fresh(now):
                return
            async with self.db.read_sessions() as session:
                unfinished = await repo.unfinished_windows(session, now)
            # The window open now, else the one announced next: the claim script refuses a
            # claim before its opening, and takes the first ones at once, with no re-read.
            self._window = unfinished[0] if unfinished else None
            self._checked_at = now
            # A window is copied as soon as it is announced, so the copy is whole at opening.
            for window in unfinished:
                self._copy_tokens_of(window)

    async def claim_by_token(
        self, token: str | None, address: str, limiter: RateLimiter, now: dt.datetime
    ) -> Granted:
        """The hot path: address limit, token and pass in one Redis call when the token is in the
        window's copy; otherwise the database says who it is and the same script decides."""
        window = await self._current(now)
        if window is None or not token:
            await limit_claims(limiter, self.settings, address)
            return await self.claim(
                await accounts_service.authenticate_readonly(self.db, token, now), now
            )
        answer, extra, _user = await self._run(
            window, "", now, hash_token(token), address_key=self._address_key(address, now),
            address_limit=self.settings.claims_per_address,
        )
        if answer == "rate_limited":
            raise RateLimited(extra if extra > 0 else self.settings.claim_limit_seconds)
        if answer == "unknown":  # not in the copy: counted already, so no second count
            return await self.claim(
                await accounts_service.authenticate_readonly(self.db, token, now), now
            )
        return self._answer(answer)

    async def claim_counted(
        self, user: Claimant, address: str, limiter: RateLimiter, now: dt.datetime
    ) -> Granted:
        """``claim`` with the address's limit counted by the same script (one Redis call)."""
        window = await self._current(now)
        if window is None or user.status != "waitlisted" or not service.eligible(
            user, window.created_at
        ):
            await limit_claims(limiter, self.settings, address)
            return await self.claim(user, now)
        answer, extra, _ = await self._run(
            window, user.id, now, address_key=self._address_key(address, now),
            address_limit=self.settings.claims_per_address,
        )
        if answer == "rate_limited":
            raise RateLimited(extra if extra > 0 else self.settings.claim_limit_seconds)
        return self._answer(answer)

    def _address_key(self, address: str, now: dt.datetime) -> str:
        # The same counter as RedisRateLimiter's "claim-addr" bucket: HTTP and sockets together.
        second, span = int(now.timestamp()), self.settings.claim_limit_seconds
        return f"{subject_key('claim-addr', address)}:{second - second % span}"

    async def _run(
        self,
        window: PassWindow,
        user_id: str,
        now: dt.datetime,
        token_hash: str = "",
        address_key: str = "mitalk:rl:none",
        address_limit: int = -1,
    ) -> tuple[str, int, str]:
        keys = [
            f"mitalk:win:{window.id}", f"mitalk:win:{window.id}:claimed", GRANT_STREAM,
            f"mitalk:win:{window.id}:tokens", ENDED_SESSIONS, address_key,
        ]
        args: list[str | int] = [
            user_id, _ms(now), window.total, window.granted, _ms(window.opens_at),
            _ms(window.closes_at) if window.closes_at else -1, window.id, token_hash,
            address_limit, self.settings.claim_limit_seconds,
        ]
        answer, extra, user = await self._script(keys, args)
        return answer.decode(), int(extra), user.decode()

    @staticmethod
    def _answer(answer: str) -> Granted:
        if answer == "granted":
            return "granted"
        if answer == "sold_out":
            raise errors.SoldOut()
        raise errors.WindowClosed()

    async def claim(self, user: Claimant, now: dt.datetime) -> Granted:
        window = await self._current(now)
        if window is None:
            # Also for "waitlisted": a socket's view of its account may lag its own grant.
            if await _holds_pass(self.db, user):
                return "granted"
            if user.status == "active":
                raise errors.AlreadyMember("You are already a member: no pass needed.")
            raise await _closed_reason(self.db, now)
        if user.status == "active":
            # Members only ever hear "granted" if they won a pass; they never take one.
            claimed = f"mitalk:win:{window.id}:claimed"
            if await self.redis.sismember(claimed, user.id) or await _holds_pass(self.db, user):
                return "granted"
            raise errors.AlreadyMember("You are already a member: no pass needed.")
        if not service.eligible(user, window.created_at):
            raise errors.NotEligible()
        answer, _, _ = await self._run(window, user.id, now)
        return self._answer(answer)

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
            except Exception:  # keep consuming after a passing failure
                log.exception("grant_consumer_error")
                await asyncio.sleep(0.5)

    async def _consume_once(self, block_ms: int | None) -> int:
        # Entries another (crashed) process read but never acknowledged come back after 10 s
        # (not sooner: under load a live writer may take seconds over a batch, and taking it over
        # then only doubles the work; a double is harmless, see add_grants).
        claimed: Any = await self.redis.xautoclaim(
            GRANT_STREAM,
            GRANT_GROUP,
            self._consumer_name,
            min_idle_time=GRANT_TAKEOVER_MS,
            start_id="0-0",
            count=1000,
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
            await apply_grants(
                self.db, self.settings, window_id, users, self.clock(), record_all=True
            )
        await self.redis.xack(GRANT_STREAM, GRANT_GROUP, *[entry_id for entry_id, _ in entries])
        return len(entries)


def make_claim_desk(
    db: Database,
    settings: Settings,
    redis: Redis | None,
    clock: Callable[[], dt.datetime],
    bus: EventBus | None = None,
) -> ClaimDesk:
    """The desk this deployment needs (see the module's docstring)."""
    if redis is not None:
        desk = RedisClaimDesk(db, settings, redis, clock)
        if bus is not None:
            bus.follow(SessionsEnded, desk.sessions_ended)
        return desk
    if db.is_sqlite:
        return LocalClaimDesk(db, settings)
    return SqlClaimDesk(db, settings)
