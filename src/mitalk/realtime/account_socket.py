"""The account socket, ``GET /api/v1/me/ws``: what one person is told outside any room.

On connect it sends ``hello`` with the account as ``GET /me`` shows it, then:

- ``notification.new`` and ``account.changed`` from the person's personal channel on the bus;
- ``waitlist.position`` (and ``account.changed`` once let in) to waitlisters when the line
  moves, and ``waitlist.window`` when a claim window opens, sells out or closes;
- ``hallway.changed`` to members when rooms start, end or change size (at most every 2 s).

Drops and claim windows are run by operators from another process (``mitalk admin``), so the
line's movement is not an event on the bus: each node reads the waitlist's running totals
(one row) every 2 s while it has waitlisters connected, and only when they moved does it work
out the places of its own connected waitlisters, a few at a time. Hallway changes come from
the room events every node already receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from mitalk.access import service as access
from mitalk.access.endpoints import window_out
from mitalk.access.models import WaitlistCounters
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts import service as accounts
from mitalk.accounts.endpoints import account_out
from mitalk.core.database import Database, unit_of_work
from mitalk.core.errors import AppError, ErrorBody
from mitalk.realtime.bus import EventBus, Subscription
from mitalk.realtime.gateway import session_token
from mitalk.realtime.personal import (
    AccountChanged,
    AccountMessage,
    AccountPongMessage,
    HallwayChangedMessage,
    HelloMessage,
    NotificationMessage,
    NotificationNew,
    WaitlistPositionMessage,
    WaitlistWindowMessage,
    user_channel,
)
from mitalk.realtime.schemas import ErrorMessage
from mitalk.rooms.events import Ended, ParticipantJoined, ParticipantLeft, Removed, RoleChanged, RoomCreated

log = structlog.get_logger(__name__)
router = APIRouter(tags=["realtime"])

QUEUE_SIZE = 100
HALLWAY_MIN_INTERVAL = 2.0
WAITLIST_POLL_SECONDS = 2.0
POSITION_LOOKUPS_AT_ONCE = 8
HALLWAY_EVENTS = (RoomCreated, Ended, ParticipantJoined, ParticipantLeft, Removed, RoleChanged)


class AccountConnection:
    """One open account socket: who it is and the messages waiting to go out."""

    def __init__(self, user_id: str, waitlisted: bool, position: tuple[int, int] | None) -> None:
        self.user_id = user_id
        self.waitlisted = waitlisted
        self.position = position
        self.queue: asyncio.Queue[BaseModel | None] = asyncio.Queue(QUEUE_SIZE)
        self.lagging = False

    def offer(self, message: BaseModel) -> None:
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

    async def start(self) -> None:
        """Start watching room events and the waitlist."""
        self._tasks = [
            asyncio.create_task(self._watch_rooms(), name="mitalk-hallway-watch"),
            asyncio.create_task(self._tick(), name="mitalk-account-tick"),
        ]

    async def stop(self) -> None:
        """Stop the watchers."""
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
            row = (
                await session.execute(
                    select(WaitlistCounters.joined, WaitlistCounters.admitted).where(WaitlistCounters.id == 1)
                )
            ).one_or_none()
            now = self.clock()
            window = await access.claim_window(session, now)
        line = (int(row[0]), int(row[1])) if row else (0, 0)
        shown = window_out(window, now) if window else None
        window_key = (shown.id, shown.state) if shown else None
        if window_key != self._window:
            self._window = window_key
            message = WaitlistWindowMessage(window=shown.model_dump(mode="json") if shown else None)
            for connection in waiting:
                connection.offer(message)
        if line == self._line:
            return
        # The line moved (or this is the first look since waitlisters connected here: it may
        # have moved between their hello and now); each connection sends only a real change.
        self._line = line
        limit = asyncio.Semaphore(POSITION_LOOKUPS_AT_ONCE)
        await asyncio.gather(*(self._refresh_position(c, limit) for c in waiting))

    async def _refresh_position(self, connection: AccountConnection, limit: asyncio.Semaphore) -> None:
        await asyncio.sleep(random.uniform(0, 0.2))  # spread the look-ups of many waitlisters
        async with limit, self.db.read_sessions() as session:
            user = await accounts_repo.user_by_id(session, connection.user_id)
            if user is None:
                return
            position = await access.position_of(session, user)
            if position is None:
                connection.waitlisted = False
                connection.offer(AccountMessage(account=(await account_out(session, user)).model_dump(mode="json")))
                return
        place = (position.position, position.total)
        if place != connection.position:
            connection.position = place
            connection.offer(WaitlistPositionMessage(position=place[0], total=place[1]))


@router.websocket("/me/ws")
async def account_socket(
    websocket: WebSocket,
    token: Annotated[str | None, Query(description="Session token (browsers; or a bearer header, or the web session cookie).")] = None,
) -> None:
    """Your own live stream: account, place in line, hallway changes, notifications."""
    app = websocket.app
    hub: AccountHub = app.state.account_hub
    await websocket.accept()
    try:
        async with unit_of_work(app.state.db) as session:
            user = await accounts.authenticate(session, app.state.settings, session_token(websocket, token), app.state.clock())
            account = await account_out(session, user)
    except AppError as error:
        await websocket.send_text(
            ErrorMessage(error=ErrorBody(code=error.code, message=error.message)).model_dump_json()
        )
        await websocket.close(code=4401, reason=error.code)
        return
    waitlisted = account.status == "waitlisted"
    position = (account.waitlist.position, account.waitlist.total) if account.waitlist else None
    connection = AccountConnection(user.id, waitlisted, position)
    with hub.bus.subscribe(user_channel(user.id)) as personal:
        hub.connections.add(connection)
        try:
            connection.offer(HelloMessage(account=account.model_dump(mode="json")))
            tasks = [
                asyncio.create_task(_write(websocket, connection)),
                asyncio.create_task(_read(websocket, connection)),
                asyncio.create_task(_forward(app, personal, connection)),
            ]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                    await task
        finally:
            hub.connections.discard(connection)
    with contextlib.suppress(Exception):
        await websocket.close(code=4409 if connection.lagging else 1000)


async def _write(websocket: WebSocket, connection: AccountConnection) -> None:
    while True:
        message = await connection.queue.get()
        if message is None:
            return  # lagging: close; the client reconnects and gets a fresh hello
        await websocket.send_text(message.model_dump_json())


async def _read(websocket: WebSocket, connection: AccountConnection) -> None:
    while True:
        try:
            raw = await websocket.receive_json()
        except (WebSocketDisconnect, ValueError, ValidationError):
            return
        if isinstance(raw, dict) and raw.get("type") == "ping":
            connection.offer(AccountPongMessage())


async def _forward(app: Any, personal: Subscription, connection: AccountConnection) -> None:
    while True:
        event = await personal.get()
        if event is None:
            connection.close_soon()
            return
        if isinstance(event, NotificationNew):
            connection.offer(NotificationMessage(notification=event.notification, unread=event.unread))
        elif isinstance(event, AccountChanged):
            async with app.state.db.read_sessions() as session:
                user = await accounts_repo.user_by_id(session, connection.user_id)
                if user is None:
                    return
                account = await account_out(session, user)
            connection.waitlisted = account.status == "waitlisted"
            connection.offer(AccountMessage(account=account.model_dump(mode="json")))
