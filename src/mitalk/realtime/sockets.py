"""Every open socket of this node by account: closed when its session ends, capped per account.

A socket (a room's, or the account's own) is authenticated once, when it opens; what it streams
afterwards would outlive the session that opened it. So each socket is registered here with its
account, its session and its kind, and this node follows the account's personal channel while
it holds any of the account's sockets:

- ``account.sessions_ended`` (published after the commit that ended sessions: sign out, sign
  out everywhere, a session ended from the sessions list, a suspension) closes the sockets of
  those sessions with 4401 ``session_ended``, on whichever node they are: the event travels on
  the bus, so with Redis every API node hears it within one publish.
- A socket still open when its session expires is closed then, with the same code.
- Each account may hold ``caps[kind]`` sockets of a kind at once (all nodes together). Opening
  one more closes the account's oldest of that kind with 4429 ``too_many_sockets`` (the newest
  is what the person is looking at; a tab left open somewhere is what goes). The count lives in
  Redis when there is one (a sorted set per account and kind, scored by opening time), else in
  this process; the eviction is an ``account.sockets_evicted`` event, closed by the node that
  holds the socket. Entries a crashed node left behind are the oldest, so they go first.
- Events lost on the bus (Redis reconnected, a queue overflowed) close the account's sockets
  here with 4409 ``resync``: clients reconnect, and a socket of an ended session is refused.
- A sweep looks up, every ``socket_sweep_seconds`` (60), whether the sessions of this node's
  sockets still exist (one query per 500), and closes those that do not: sessions ended where
  no event was published (``mitalk admin sign-out`` without Redis, a row deleted by hand)
  close within a minute instead of never.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import structlog

from mitalk.core.database import utcnow
from mitalk.core.security import new_id
from mitalk.realtime.bus import EventBus, Subscription
from mitalk.realtime.events import PersonalEvent, register_events, user_channel

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

SocketKind = Literal["room", "account"]

CLOSE_SESSION_ENDED = (4401, "session_ended")
CLOSE_TOO_MANY = (4429, "too_many_sockets")
CLOSE_RESYNC = (4409, "resync")
# What the socket's last (error) message says before such a close.
CLOSE_MESSAGES = {
    "session_ended": "This session has ended (signed out). Sign in again.",
    "too_many_sockets": "You opened more live connections than allowed; this, the oldest, "
    "was closed.",
    "resync": "Events may have been lost: connect again.",
}

# How long an account's Redis count outlives its last opening: a socket open longer than this
# with no other opening of its kind drops out of the count (the cap is then looser, never
# tighter).
COUNT_TTL_SECONDS = 24 * 3600
SWEEP_SECONDS = 60.0
SWEEP_BATCH = 500

# Which of these session ids still exist (the accounts context answers; realtime is below it).
LiveSessions = Callable[[list[str]], Awaitable[set[str]]]


class SessionsEnded(PersonalEvent):
    """These sessions of the account ended: their sockets close (every node that holds one)."""

    type: Literal["account.sessions_ended"] = "account.sessions_ended"
    session_ids: list[str]


class SocketsEvicted(PersonalEvent):
    """The account opened more sockets than its cap: these (its oldest) close."""

    type: Literal["account.sockets_evicted"] = "account.sockets_evicted"
    socket_ids: list[str]


register_events(SessionsEnded, SocketsEvicted)


def sessions_ended(user_id: str, session_ids: list[str]) -> SessionsEnded:
    """The event that closes these sessions' sockets."""
    return SessionsEnded(channel=user_channel(user_id), at=utcnow(), session_ids=session_ids)


@dataclass(eq=False)
class OpenSocket:
    """One registered socket; ``closing`` resolves to (code, reason) when it must close."""

    user_id: str
    session_id: str
    kind: SocketKind
    id: str = field(default_factory=new_id)
    closing: asyncio.Future[tuple[int, str]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    expiry: asyncio.TimerHandle | None = None

    def close(self, code: tuple[int, str]) -> None:
        """Ask the socket's handler to close with ``code`` (the first request wins)."""
        if not self.closing.done():
            self.closing.set_result(code)


# Add a socket to its account's count and take out the oldest beyond the cap, atomically.
# KEYS[1]: the sorted set; ARGV: socket id, score (opening time), cap, ttl.
_COUNT_IN = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if excess <= 0 then return {} end
local oldest = redis.call('ZRANGE', KEYS[1], 0, excess - 1)
redis.call('ZREM', KEYS[1], unpack(oldest))
return oldest
"""


class SocketRegistry:
    """This node's sockets by account (module docstring)."""

    def __init__(
        self,
        bus: EventBus,
        redis: Redis | None,
        caps: Mapping[SocketKind, int],
        live_sessions: LiveSessions | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.bus, self.redis, self.caps = bus, redis, dict(caps)
        self.live_sessions, self.sweep_seconds = live_sessions, sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._sockets: dict[str, dict[str, OpenSocket]] = {}
        self._watchers: dict[str, tuple[asyncio.Task[None], Subscription]] = {}
        # Without Redis: the opening order of each account's sockets of a kind (this process).
        self._counts: dict[tuple[str, SocketKind], dict[str, int]] = {}
        self._order = itertools.count()
        self._count_in = redis.register_script(_COUNT_IN) if redis is not None else None

    def held(self, user_id: str) -> list[OpenSocket]:
        """The account's sockets registered on this node."""
        return list(self._sockets.get(user_id, {}).values())

    async def open(
        self,
        user_id: str,
        session_id: str,
        kind: SocketKind,
        expires_at: dt.datetime | None = None,
    ) -> OpenSocket:
        """Register a socket (after it authenticated); the oldest beyond the cap are closed."""
        socket = OpenSocket(user_id, session_id, kind)
        self._sockets.setdefault(user_id, {})[socket.id] = socket
        watcher = self._watchers.get(user_id)
        if watcher is None or watcher[0].done():
            if watcher is not None:
                watcher[1].close()
            # Subscribed here, synchronously: an event published from now on reaches it.
            subscription = self.bus.subscribe(user_channel(user_id))
            task = asyncio.create_task(
                self._watch(user_id, subscription), name="mitalk-socket-watch"
            )
            self._watchers[user_id] = (task, subscription)
        if expires_at is not None:
            delay = max(0.0, (expires_at - utcnow()).total_seconds())
            socket.expiry = asyncio.get_running_loop().call_later(
                delay, socket.close, CLOSE_SESSION_ENDED
            )
        evicted = await self._count(socket)
        if evicted:
            await self.bus.publish(
                SocketsEvicted(channel=user_channel(user_id), at=utcnow(), socket_ids=evicted)
            )
        return socket

    async def release(self, socket: OpenSocket) -> None:
        """Forget a socket that closed (for any reason)."""
        if socket.expiry is not None:
            socket.expiry.cancel()
        mine = self._sockets.get(socket.user_id, {})
        mine.pop(socket.id, None)
        if not mine:
            self._sockets.pop(socket.user_id, None)
            watcher = self._watchers.pop(socket.user_id, None)
            if watcher is not None:
                # Closed here too: a task cancelled before it ever ran never closes it itself.
                watcher[0].cancel()
                watcher[1].close()
        if self.redis is not None:
            with contextlib.suppress(Exception):  # gone from the count at the TTL anyway
                await self.redis.zrem(self._count_key(socket.user_id, socket.kind), socket.id)
        else:
            counted = self._counts.get((socket.user_id, socket.kind), {})
            counted.pop(socket.id, None)
            if not counted:
                self._counts.pop((socket.user_id, socket.kind), None)

    def start(self) -> None:
        """Start the sweep (when there is a way to look sessions up)."""
        if self.live_sessions is not None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="mitalk-socket-sweep")

    async def sweep(self) -> int:
        """Close the sockets here whose session no longer exists; how many were closed."""
        if self.live_sessions is None:
            return 0
        held = [socket for sockets in self._sockets.values() for socket in sockets.values()]
        ids = sorted({socket.session_id for socket in held})
        live: set[str] = set()
        for start in range(0, len(ids), SWEEP_BATCH):
            live |= await self.live_sessions(ids[start : start + SWEEP_BATCH])
        ended = [socket for socket in held if socket.session_id not in live]
        for socket in ended:
            socket.close(CLOSE_SESSION_ENDED)
        return len(ended)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_seconds)
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next time
                log.warning("socket_sweep_failed", error=repr(exc))

    async def stop(self) -> None:
        """Stop following accounts (the app is stopping)."""
        watchers = [task for task, _ in self._watchers.values()]
        for _, subscription in self._watchers.values():
            subscription.close()
        if self._sweeper is not None:
            watchers.append(self._sweeper)
            self._sweeper = None
        self._watchers.clear()
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    def _count_key(user_id: str, kind: SocketKind) -> str:
        return f"mitalk:sockets:{kind}:{user_id}"

    async def _count(self, socket: OpenSocket) -> list[str]:
        """Count the socket in; the ids of the account's oldest sockets beyond the cap."""
        cap = self.caps[socket.kind]
        if self._count_in is not None:
            oldest = await self._count_in(
                keys=[self._count_key(socket.user_id, socket.kind)],
                args=[socket.id, f"{time.time():.6f}", cap, COUNT_TTL_SECONDS],
            )
            return [o.decode() if isinstance(o, bytes) else str(o) for o in oldest]
        counted = self._counts.setdefault((socket.user_id, socket.kind), {})
        counted[socket.id] = next(self._order)
        excess = len(counted) - cap
        if excess <= 0:
            return []
        oldest_ids = sorted(counted, key=counted.__getitem__)[:excess]
        for socket_id in oldest_ids:
            del counted[socket_id]
        return oldest_ids

    async def _watch(self, user_id: str, subscription: Subscription) -> None:
        """Close the account's sockets here as its personal events say."""
        with subscription:  # (also closed by ``release``, which may cancel this before it runs)
            while True:
                event = await subscription.get()
                if event is None:  # events were lost: everyone reconnects and re-authenticates
                    for socket in self.held(user_id):
                        socket.close(CLOSE_RESYNC)
                    return
                if isinstance(event, SessionsEnded):
                    ended = set(event.session_ids)
                    for socket in self.held(user_id):
                        if socket.session_id in ended:
                            socket.close(CLOSE_SESSION_ENDED)
                elif isinstance(event, SocketsEvicted):
                    evicted = set(event.socket_ids)
                    for socket in self.held(user_id):
                        if socket.id in evicted:
                            socket.close(CLOSE_TOO_MANY)
