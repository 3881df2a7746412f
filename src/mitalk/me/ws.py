"""The account socket, ``GET /api/v1/me/ws``: what one person is told outside any room.

On connect it sends ``hello`` with the account as ``GET /me`` shows it, then:

- ``notification.new``, ``account.changed`` and ``network.changed`` (someone followed or
  unfollowed them) from the person's personal channel on the bus;
- ``waitlist.position`` (and ``account.changed`` once let in) to waitlisters when the line
  moves, and ``waitlist.window`` when a claim window opens, sells out or closes;
- ``hallway.changed`` to members when rooms start, end or change size (at most every 2 s).

Drops and claim windows are run by operators from another process (``mitalk admin``), so the
line's movement is not an event on the bus: each node reads the waitlist's running totals
(one row) every 2 s while it has waitlisters connected, and only when they moved does it work
out the places of all its connected waitlisters at once, from a few reads of the line. Hallway
changes come from the room events every node already receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError

from mitalk.access import claims
from mitalk.access import repository as access_repo
from mitalk.access import service as access
from mitalk.access.models import PassWindow
from mitalk.access.presenters import window_out
from mitalk.access.schemas import ClaimWindowOut
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts import service as accounts
from mitalk.accounts.dependencies import session_token
from mitalk.accounts.events import AccountChanged
from mitalk.accounts.models import User
from mitalk.core.database import Database, unit_of_work
from mitalk.core.errors import AppError, ErrorBody, RateLimited
from mitalk.core.security import hash_token
from mitalk.me.presenters import account_out, accounts_out_of_line
from mitalk.me.schemas import (
    ACCOUNT_MESSAGES,
    AccountMessage,
    AccountOut,
    AccountPongMessage,
    HallwayChangedMessage,
    HelloMessage,
    NetworkChangedMessage,
    NotificationMessage,
    NotificationsReadMessage,
    PassClaimResultMessage,
    WaitlistPositionMessage,
    WaitlistWindowMessage,
)
from mitalk.network.events import FollowersChanged
from mitalk.notifications.events import NotificationNew, NotificationsRead
from mitalk.realtime.bus import EventBus, Subscription
from mitalk.realtime.events import user_channel
from mitalk.realtime.schemas import document
from mitalk.realtime.sockets import CLOSE_MESSAGES, CLOSE_SESSION_ENDED, SocketRegistry
from mitalk.rooms.events import (
    Ended,
    ParticipantJoined,
    ParticipantLeft,
    Removed,
    RoleChanged,
    RoomCreated,
)
from mitalk.rooms.schemas import ErrorMessage

log = structlog.get_logger(__name__)
router = APIRouter(tags=["realtime"])
document("account_messages", ACCOUNT_MESSAGES)

QUEUE_SIZE = 100
HALLWAY_MIN_INTERVAL = 2.0
WAITLIST_POLL_SECONDS = 2.0
# Hellos reading the database at once, per process: thousands of sockets opening together wait
# their turn here instead of each taking a pooled connection (the pools and PostgreSQL's
# connection limit would run out; a few at a time keep the database busy enough).
HELLOS_AT_ONCE = 8
HALLWAY_EVENTS = (RoomCreated, Ended, ParticipantJoined, ParticipantLeft, Removed, RoleChanged)


class AccountConnection:
    """One open account socket: who it is and the messages waiting to go out."""

    def __init__(
        self,
        user_id: str,
        waitlisted: bool,
        position: tuple[int, int] | None,
        created_at: dt.datetime | None = None,
        address: str = "unknown",
    ) -> None:
        self.user_id = user_id
        self.waitlisted = waitlisted
        self.position = position
        self.created_at = created_at
        self.address = address
        self.seq: int | None = None  # the place's sequence number, read by the hub when needed
        # A message, or its JSON already rendered once for many sockets, or None: close.
        self.queue: asyncio.Queue[BaseModel | str | None] = asyncio.Queue(QUEUE_SIZE)
        self.lagging = False

    def offer(self, message: BaseModel | str) -> None:
        """Queue a message; a client too slow to take 100 is disconnected (it reconnects)."""
        if self.lagging:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.close_soon()

    def close_soon(self) -> None:
        """Messages were lost for this client: end the socket; reconnecting brings a fresh hello."""
        self.lagging = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class AccountHub:
    """This node's account sockets, and the two watchers that feed them."""

    def __init__(self, db: Database, bus: EventBus, clock: Callable[[], dt.datetime]) -> None:
        self.db, self.bus, self.clock = db, bus, clock
        self.connections: set[AccountConnection] = set()
        self._hallway_dirty = False
        self._tasks: list[asyncio.Task[None]] = []
        self._line: tuple[int, int] | None = None
        self._window: tuple[str, str] | None = None
        self._opening: tuple[str, asyncio.TimerHandle] | None = None
        self.hellos = asyncio.Semaphore(HELLOS_AT_ONCE)
        self.line = access.LineSnapshot()  # the places hellos show, shared by all of them

    async def start(self) -> None:
        """Start watching room events and the waitlist."""
        self._tasks = [
            asyncio.create_task(self._watch_rooms(), name="mitalk-hallway-watch"),
            asyncio.create_task(self._tick(), name="mitalk-account-tick"),
        ]

    async def stop(self) -> None:
        """Stop the watchers."""
        if self._opening is not None:
            self._opening[1].cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_rooms(self) -> None:
        while True:
            with self.bus.subscribe(None) as subscription:
                while True:
                    event = await subscription.get()
                    if event is None:  # events were lost: assume the hallway changed
                        self._hallway_dirty = True
                        break
                    if isinstance(event, HALLWAY_EVENTS):
                        self._hallway_dirty = True

    async def _tick(self) -> None:
        last_hallway = 0.0
        last_poll = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.5)
            now = loop.time()
            if self._hallway_dirty and now - last_hallway >= HALLWAY_MIN_INTERVAL:
                self._hallway_dirty = False
                last_hallway = now
                for connection in list(self.connections):
                    if not connection.waitlisted:
                        connection.offer(HallwayChangedMessage())
            if now - last_poll >= WAITLIST_POLL_SECONDS:
                last_poll = now
                waiting = [c for c in self.connections if c.waitlisted]
                if waiting:
                    try:
                        await self._poll_waitlist(waiting)
                    except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next tick
                        log.warning("account_socket_poll_failed", error=repr(exc))
                else:
                    self._line = None

    async def _poll_waitlist(self, waiting: list[AccountConnection]) -> None:
        async with self.db.read_sessions() as session:
            line = await access_repo.counters(session)
            now = self.clock()
            window = await access.claim_window(session, now)
        shown = window_out(window, now) if window else None
        window_key = (shown.id, shown.state) if shown else None
        if window_key != self._window:
            self._window = window_key
            self._tell_waitlisters(shown)
        if window is not None and shown is not None and shown.state == "scheduled":
            self._open_on_time(window)
        if line == self._line:
            return
        # The line moved (or this is the first look since waitlisters connected here: it may
        # have moved between their hello and now); each connection sends only a real change.
        self._line = await self._refresh_places(waiting, line)

    def _tell_waitlisters(self, shown: ClaimWindowOut | None) -> None:
        # Rendered once for every socket: at a window's opening that is everyone in line here.
        message = WaitlistWindowMessage(
            window=shown.model_dump(mode="json") if shown else None
        ).model_dump_json()
        for connection in list(self.connections):
            if connection.waitlisted:
                connection.offer(message)

    def _open_on_time(self, window: PassWindow) -> None:
        """Push a scheduled window's opening to every waitlister here at the moment it opens.

        The poll sees a scheduled window well before it opens (it is announced ahead); the
        opening itself is then sent on time, to all at once, rather than up to a poll late.
        """
        if self._opening is not None:
            if self._opening[0] == window.id:
                return
            self._opening[1].cancel()
        loop = asyncio.get_running_loop()
        delay = max(0.0, (window.opens_at - self.clock()).total_seconds())
        self._opening = (window.id, loop.call_later(delay, self._opened, window))

    def _opened(self, window: PassWindow) -> None:
        self._opening = None
        shown = window_out(window, self.clock())
        if shown.state == "scheduled":  # the timer fired a hair early: look again at once
            self._open_on_time(window)
            return
        if shown.state != "open" or self._window == (shown.id, shown.state):
            return
        self._window = (shown.id, shown.state)
        self._tell_waitlisters(shown)

    async def _refresh_places(
        self, waiting: list[AccountConnection], line: tuple[int, int]
    ) -> tuple[int, int] | None:
        """Work out the places of all this node's waitlisters from one look at the line.

        A handful of reads however many sockets wait here (each person's sequence number is
        read once and kept: it never changes): the head of the line, and who was let in out of
        order between the head and the last of them. Those let in get their account, read in
        bulk too: at a window's opening thousands are let in within seconds.

        ``line`` is (joined, admitted) as read just before. The reads take no snapshot (no
        transaction is held open over them), so someone let in between them would give a
        place counted without them and a total counted with them ("2 of 4" where 3 are left):
        the counters are read again after, and the look is made again if they moved (the
        admitted count moves in the same commit as whoever is let in). Returns the line the
        places are exact for (None: it kept moving; the next poll looks again).
        """
        for _ in range(3):
            async with self.db.read_sessions() as session:
                unknown = [c.user_id for c in waiting if c.seq is None]
                if unknown:
                    found = await access_repo.waitlist_seqs(session, unknown)
                    for connection in waiting:
                        if connection.seq is None:
                            connection.seq = found.get(connection.user_id, 0)  # 0: not in line
                seqs = {c.user_id: c.seq for c in waiting if c.seq}
                head = await access_repo.waiting_head(session)
                above = [seq for seq in seqs.values() if head is not None and seq > head]
                before, admitted = (
                    await access_repo.admitted_between(session, head, min(above), max(above))
                    if above and head is not None
                    else (0, [])
                )
                after = await access_repo.counters(session)
                if after[1] != line[1]:
                    line = after
                    continue
                places = access.places_in_line(seqs, head, before, admitted, after[0] - after[1])
                let_in = [
                    c.user_id for c in waiting if c.seq == 0 or places.get(c.user_id) is None
                ]
                accounts = await accounts_out_of_line(session, let_in) if let_in else {}
                break
        else:
            return None
        for connection in waiting:
            place = places.get(connection.user_id)
            if place is None:
                account = accounts.get(connection.user_id)
                connection.waitlisted = False
                if account is not None:  # (None: the account was deleted; its socket closes)
                    connection.offer(AccountMessage(account=account.model_dump(mode="json")))
                continue
            shown = (place.position, place.total)
            if shown != connection.position:
                connection.position = shown
                connection.offer(WaitlistPositionMessage(position=shown[0], total=shown[1]))
        return after


@router.websocket("/me/ws")
async def account_socket(
    websocket: WebSocket,
    token: Annotated[
        str | None,
        Query(
            description="Session token (browsers; or a bearer header, or the web session cookie)."
        ),
    ] = None,
) -> None:
    """Your own live stream: account, place in line, hallway changes, notifications."""
    app = websocket.app
    hub: AccountHub = app.state.account_hub
    await websocket.accept()
    try:
        async with hub.hellos:  # a burst of sockets waits here rather than empty the pools
            signed_in, account = await _hello(app, session_token(websocket, token))
        user = signed_in.user
    except AppError as error:
        await _refuse(websocket, error.code, error.message, 4401)
        return
    registry: SocketRegistry = app.state.sockets
    # Registered: the session's end or the account's socket cap closes it (realtime/sockets.py).
    registered = await registry.open(user.id, signed_in.session_id, "account", signed_in.expires_at)
    try:
        live = await accounts.session_is_live(
            app.state.db, signed_in.session_id, app.state.clock()
        )
        if not live:
            code, reason = CLOSE_SESSION_ENDED
            await _refuse(websocket, reason, CLOSE_MESSAGES[reason], code)
            return
        waitlisted = account.status == "waitlisted"
        position = (
            (account.waitlist.position, account.waitlist.total) if account.waitlist else None
        )
        address = websocket.client.host if websocket.client else "unknown"
        connection = AccountConnection(user.id, waitlisted, position, user.created_at, address)
        with hub.bus.subscribe(user_channel(user.id)) as personal:
            hub.connections.add(connection)
            closing: asyncio.Future[Any] = registered.closing
            try:
                connection.offer(HelloMessage(account=account.model_dump(mode="json")))
                tasks: list[asyncio.Future[Any]] = [
                    asyncio.create_task(_write(websocket, connection)),
                    asyncio.create_task(_read(app, websocket, connection)),
                    asyncio.create_task(_forward(app, personal, connection)),
                    closing,
                ]
                _done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in pending:
                    task.cancel()
                for task in pending:
                    with contextlib.suppress(
                        asyncio.CancelledError, WebSocketDisconnect, Exception
                    ):
                        await task
            finally:
                hub.connections.discard(connection)
        if closing.done() and not closing.cancelled():
            code, reason = closing.result()
            await _refuse(websocket, reason, CLOSE_MESSAGES.get(reason, reason), code)
            return
    finally:
        await registry.release(registered)
    with contextlib.suppress(Exception):
        await websocket.close(code=4409 if connection.lagging else 1000)


async def _hello(app: Any, token: str | None) -> tuple[accounts.Authenticated, AccountOut]:
    """Who the socket is and the account its hello shows, in plain reads when nothing is to
    be written (the usual case: a member, or a waitlister the rules still keep waiting): no
    transaction, one read of the token, the rules and the place, each a single statement.
    A waitlister the rules now let in takes the sign-in path, which admits them."""
    state = app.state
    now = state.clock()
    if token:
        async with state.db.read_sessions() as session:
            found = await accounts_repo.session_by_token_hash(session, hash_token(token), now)
            if found is not None:
                user, auth = found
                signed_in = accounts.Authenticated(user, auth.id, auth.expires_at)
                if user.status != "waitlisted":
                    return signed_in, await account_out(session, user)
                if await access.admission_reason(session, user.phone) is None:
                    # Not staff (the rules would let staff in): no second look at the list.
                    return signed_in, await account_out(
                        session, user, staff=False, line=state.account_hub.line
                    )
    async with unit_of_work(state.db) as session:
        signed_in = await accounts.authenticate_session(
            session, state.settings, state.admission, token, now
        )
        return signed_in, await account_out(session, signed_in.user)


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int) -> None:
    """One error message, then the close (either may fail on a socket already gone)."""
    with contextlib.suppress(Exception):
        await websocket.send_text(
            ErrorMessage(error=ErrorBody(code=code, message=message)).model_dump_json()
        )
    with contextlib.suppress(Exception):
        await websocket.close(code=close_code, reason=code)


async def _write(websocket: WebSocket, connection: AccountConnection) -> None:
    while True:
        message = await connection.queue.get()
        if message is None:
            return  # lagging: close; the client reconnects and gets a fresh hello
        await websocket.send_text(
            message if isinstance(message, str) else message.model_dump_json()
        )


async def _read(app: Any, websocket: WebSocket, connection: AccountConnection) -> None:
    while True:
        try:
            raw = await websocket.receive_json()
        except (WebSocketDisconnect, ValueError, ValidationError):
            return
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind == "ping":
            connection.offer(AccountPongMessage())
        elif kind == "pass.claim":
            # One claim at a time per socket: the next message waits for this answer.
            connection.offer(await _claim(app, connection))


# What a refused claim answers over the socket, by the error's code.
CLAIM_RESULTS: dict[str, str] = {
    "sold_out": "sold_out",
    "window_closed": "closed",
    "already_member": "already_member",
    "not_eligible": "not_eligible",
    "rate_limited": "rate_limited",
}


async def _claim(app: Any, connection: AccountConnection) -> PassClaimResultMessage:
    """Claim a pass for the socket's account, with the same desk and limits as HTTP."""
    state = app.state
    # The socket knows who it is: no token to read again. Status as last told on this socket;
    # a person let in meanwhile is caught by the desk (they never take a pass from the line).
    account = User(
        id=connection.user_id,
        status="waitlisted" if connection.waitlisted else "active",
        created_at=connection.created_at,
    )
    try:
        await claims.claim_as(
            state.claim_desk, state.rate_limiter, state.settings, account, connection.address,
            state.clock(),
        )
    except RateLimited as error:
        return PassClaimResultMessage(result="rate_limited", retry_after=error.retry_after)
    except AppError as error:
        result = CLAIM_RESULTS.get(error.code)
        if result is None:
            return PassClaimResultMessage(result="error", code=error.code)
        return PassClaimResultMessage.model_validate({"result": result})
    except Exception:
        log.exception("socket_claim_failed", user=connection.user_id)
        return PassClaimResultMessage(result="error", code="internal")
    return PassClaimResultMessage(result="granted")


async def _forward(app: Any, personal: Subscription, connection: AccountConnection) -> None:
    while True:
        event = await personal.get()
        if event is None:
            connection.close_soon()
            return
        if isinstance(event, NotificationNew):
            connection.offer(
                NotificationMessage(notification=event.notification, unread=event.unread)
            )
        elif isinstance(event, NotificationsRead):
            connection.offer(NotificationsReadMessage(up_to=event.up_to, unread=event.unread))
        elif isinstance(event, FollowersChanged):
            connection.offer(NetworkChangedMessage())
        elif isinstance(event, AccountChanged):
            async with app.state.db.read_sessions() as session:
                user = await accounts_repo.user_by_id(session, connection.user_id)
                if user is None:
                    return
                account = await account_out(session, user)
            connection.waitlisted = account.status == "waitlisted"
            connection.offer(AccountMessage(account=account.model_dump(mode="json")))
