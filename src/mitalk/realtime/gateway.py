"""The room WebSocket: a snapshot and its sequence number, then ordered events; resume or resync.

Protocol (JSON text frames; schemas at ``GET /api/v1/realtime/schemas``):

- Connect to ``/api/v1/rooms/{room_id}/ws``, authenticated by ``Authorization: Bearer <token>``
  or, for browsers (which cannot set headers on a WebSocket), ``?token=<token>``.
- Without ``after`` the server sends ``snapshot`` (the room and its ``seq``), then every later
  event in ``seq`` order. With ``?after=<seq>`` it sends ``resumed`` and the events missed since,
  or ``resync`` followed by a fresh ``snapshot`` when they are no longer kept.
- The server guarantees order: events that arrive out of order are held back until the gap
  fills; a gap that does not fill within ``realtime_gap_timeout_seconds`` (an event lost between
  commit and publish) or a client too slow to keep up gets ``resync`` and a ``snapshot``.
- The client may send ``ping`` and self-actions (``raise_hand``, ``lower_hand``, ``mute``,
  ``unmute``, ``leave``) with an optional ``ref``; each is answered ``ack`` or ``error``.
- A refused connection gets one ``error`` message, then closes with code 4000 + HTTP status
  (4401, 4403, 4404). After ``room.ended`` the socket closes with 1000; a removed person's
  socket closes with 4403 after their ``room.removed``.

Database sessions are short: one to authenticate and read the snapshot, one per inbound
message, one per resync; never one for the socket's life.
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
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import service as accounts
from mitalk.accounts.models import User
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.errors import AppError, ErrorBody, NotActive
from mitalk.core.settings import Settings
from mitalk.accounts.dependencies import SESSION_COOKIE
from mitalk.realtime.personal import ACCOUNT_MESSAGES
from mitalk.realtime.bus import EventBus, Subscription, contiguous
from mitalk.realtime.schemas import (
    SERVER_MESSAGES,
    AckMessage,
    ActionMessage,
    ErrorMessage,
    PingMessage,
    PongMessage,
    RealtimeSchemasOut,
    ResumedMessage,
    ResyncMessage,
    SnapshotMessage,
    client_message_adapter,
)
from mitalk.rooms import service as rooms
from mitalk.rooms.events import (
    EVENT_TYPES,
    ActiveSpeaker,
    EventBase,
    ParticipantJoined,
    ParticipantLeft,
    Removed,
    RoleChanged,
    event_name,
)
from mitalk.rooms.schemas import ParticipantOut, RoomOut

log = structlog.get_logger(__name__)

router = APIRouter(tags=["realtime"])

CLOSE_NORMAL = 1000


class Refused(Exception):
    """The socket must close (after an error message, if any)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def session_token(websocket: WebSocket, token: str | None) -> str | None:
    """The socket's session token: bearer header, ``?token=``, else the web session cookie.

    Browsers send cookies with cross-site WebSocket handshakes too (no CSRF header is possible
    there), so the cookie counts only when the page's ``Origin`` is this server itself.
    """
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if token:
        return token
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if cookie and same_origin(websocket):
        return cookie
    return None


def same_origin(websocket: WebSocket) -> bool:
    """Whether the handshake's ``Origin`` is this server's own scheme, host and port."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    scheme, _, rest = origin.partition("://")
    expected = {"ws": "http", "wss": "https"}.get(websocket.url.scheme, websocket.url.scheme)
    return scheme.lower() == expected and rest.rstrip("/").lower() == host.lower()


async def _member(
    session: AsyncSession, settings: Settings, token: str | None, now: dt.datetime
) -> User:
    user = await accounts.authenticate(session, settings, token, now)
    if user.status != "active":
        raise NotActive()
    return user


class RoomConnection:
    """One client's socket on one room: ordered delivery out, one short session per message in."""

    def __init__(
        self,
        websocket: WebSocket,
        room_id: str,
        token: str | None,
        db: Database,
        bus: EventBus,
        settings: Settings,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.websocket, self.room_id, self.token = websocket, room_id, token
        self.db, self.bus, self.settings, self.clock = db, bus, settings, clock
        self.subscription: Subscription = bus.subscribe(room_id)
        self.user_id = ""
        self.role: str | None = None
        self.last_seq = 0
        self.pending: dict[int, EventBase] = {}
        self.gap_deadline: float | None = None
        self._send_lock = asyncio.Lock()

    async def send(self, message: BaseModel) -> None:
        """Send one message (reader and writer share the socket)."""
        async with self._send_lock:
            await self.websocket.send_text(message.model_dump_json())

    async def snapshot(self) -> RoomOut:
        """Authenticate and read the room in one short transaction."""
        async with unit_of_work(self.db) as session:
            user = await _member(session, self.settings, self.token, self.clock())
            room = await rooms.get_room(session, self.room_id, user)
        self.user_id = user.id
        self._track_role(room)
        return room

    def _track_role(self, room: RoomOut) -> None:
        self.role = next((p.role for p in room.participants if p.user_id == self.user_id), None)

    async def open(self, after: int | None) -> None:
        """Send the snapshot, or resume from ``after``, or resync."""
        try:
            room = await self.snapshot()
        except AppError as exc:
            await self.send(ErrorMessage(error=ErrorBody(code=exc.code, message=exc.message)))
            raise Refused(4000 + exc.status, exc.code) from exc
        if after is None:
            await self._send_snapshot(room)
        elif after > room.seq:
            await self._resync("ahead_of_room")
        else:
            missed = contiguous(await self.bus.history(self.room_id, after), after, room.seq)
            if missed is None:
                await self._resync("gap_too_old")
            else:
                await self.send(ResumedMessage(after=after, seq=room.seq))
                self.last_seq = after
                for event in missed:
                    await self._deliver(event)
        if room.status == "ended":
            raise Refused(CLOSE_NORMAL, "room_ended")

    async def _send_snapshot(self, room: RoomOut) -> None:
        self.last_seq = room.seq
        self.pending.clear()
        self.gap_deadline = None
        await self.send(SnapshotMessage(seq=room.seq, room=room))
        # room.active_speaker is ephemeral (not replayed from the buffer): someone who arrives
        # while a person talks is told who, rather than waiting for the next change.
        media = getattr(self.websocket.app.state, "media", None)
        speaker = media.active_speaker(self.room_id) if media is not None else None
        if speaker is not None:
            await self.send(ActiveSpeaker(room_id=self.room_id, at=utcnow(), user_id=speaker))

    async def _resync(self, reason: Any) -> None:
        """Start over: a fresh subscription (taken before the read), then a fresh snapshot."""
        self.subscription.close()
        self.subscription = self.bus.subscribe(self.room_id)
        await self.send(ResyncMessage(reason=reason))
        try:
            room = await self.snapshot()
        except AppError as exc:
            await self.send(ErrorMessage(error=ErrorBody(code=exc.code, message=exc.message)))
            raise Refused(4000 + exc.status, exc.code) from exc
        await self._send_snapshot(room)
        if room.status == "ended":
            raise Refused(CLOSE_NORMAL, "room_ended")

    def _is_recipient(self, event: EventBase) -> bool:
        scope = event.recipients.scope
        if scope == "room":
            return True
        if scope == "moderators":
            return self.role == "moderator"
        return self.user_id in event.recipients.user_ids

    async def _deliver(self, event: EventBase) -> None:
        """Send one in-order event (if addressed to this client) and act on what it means."""
        if event.seq is not None:
            self.last_seq = event.seq
        if isinstance(event, ParticipantJoined) and event.participant.user_id == self.user_id:
            self.role = event.participant.role
        elif isinstance(event, RoleChanged) and event.user_id == self.user_id:
            self.role = event.role
        elif isinstance(event, ParticipantLeft | Removed) and event.user_id == self.user_id:
            self.role = None
        if self._is_recipient(event):
            await self.send(event)
        if event.type == "room.ended":
            raise Refused(CLOSE_NORMAL, "room_ended")
        if isinstance(event, Removed) and event.user_id == self.user_id:
            raise Refused(4403, "removed_from_room")

    async def _accept(self, event: EventBase) -> None:
        """Deliver events in ``seq`` order, holding back any that arrive early."""
        if event.seq is None:
            if self._is_recipient(event):
                await self.send(event)
            return
        if event.seq <= self.last_seq:
            return  # already in the snapshot or delivered
        self.pending[event.seq] = event
        while self.last_seq + 1 in self.pending:
            await self._deliver(self.pending.pop(self.last_seq + 1))
        loop = asyncio.get_running_loop()
        if not self.pending:
            self.gap_deadline = None
        elif self.gap_deadline is None:
            self.gap_deadline = loop.time() + self.settings.realtime_gap_timeout_seconds

    async def _fill_gap(self) -> None:
        """A gap outlived its timeout: take what the buffer has, else resync."""
        upto = max(self.pending)
        found = contiguous(await self.bus.history(self.room_id, self.last_seq), self.last_seq, upto)
        if found is None:
            await self._resync("missing_event")
            return
        for event in found:
            self.pending.setdefault(event.seq or 0, event)
        self.gap_deadline = None
        while self.last_seq + 1 in self.pending:
            await self._deliver(self.pending.pop(self.last_seq + 1))

    async def write(self) -> None:
        """Forward bus events to the client in order until the room ends or the socket closes."""
        loop = asyncio.get_running_loop()
        while True:
            timeout = (
                None if self.gap_deadline is None else max(0.0, self.gap_deadline - loop.time())
            )
            try:
                event = await asyncio.wait_for(self.subscription.get(), timeout)
            except TimeoutError:
                await self._fill_gap()
                continue
            if event is None:
                await self._resync("fell_behind")
                continue
            await self._accept(event)

    async def read(self) -> None:
        """Answer pings and perform self-actions, one short transaction per message."""
        while True:
            raw = await self.websocket.receive_text()
            try:
                message = client_message_adapter.validate_json(raw)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                error = ErrorBody(
                    code="invalid_message",
                    message=f"Not a message this socket understands: {reason}",
                )
                await self.send(ErrorMessage(error=error))
                continue
            if isinstance(message, PingMessage):
                await self.send(PongMessage(ref=message.ref))
                continue
            await self._act(message)

    async def _act(self, message: ActionMessage) -> None:
        try:
            async with unit_of_work(self.db) as session:
                now = self.clock()
                user = await _member(session, self.settings, self.token, now)
                participant: ParticipantOut | None = None
                if message.type in ("raise_hand", "lower_hand"):
                    raised = message.type == "raise_hand"
                    participant = await rooms.set_hand(
                        session, self.bus, self.room_id, user, raised, now
                    )
                elif message.type == "mute":
                    participant = await rooms.mute(
                        session, self.bus, self.room_id, user, user.id, now
                    )
                elif message.type == "unmute":
                    participant = await rooms.unmute_self(
                        session, self.bus, self.room_id, user, now
                    )
                else:
                    await rooms.leave(session, self.bus, self.room_id, user, now)
        except AppError as exc:
            await self.send(
                ErrorMessage(ref=message.ref, error=ErrorBody(code=exc.code, message=exc.message))
            )
            if exc.status == 401:
                raise Refused(4401, exc.code) from exc
            return
        await self.send(AckMessage(ref=message.ref, participant=participant))


@router.websocket("/rooms/{room_id}/ws")
async def room_socket(
    websocket: WebSocket,
    room_id: str,
    token: Annotated[str | None, Query(description="The bearer token, for browsers.")] = None,
    after: Annotated[int | None, Query(ge=0, description="Resume after this seq.")] = None,
) -> None:
    """A room's live state: snapshot, then ordered events; see the module docstring."""
    app = websocket.app
    await websocket.accept()
    connection = RoomConnection(
        websocket,
        room_id,
        session_token(websocket, token),
        app.state.db,
        app.state.bus,
        app.state.settings,
        app.state.clock,
    )
    close_code, close_reason = CLOSE_NORMAL, ""
    try:
        await connection.open(after)
        tasks = {
            asyncio.create_task(connection.read(), name="room-socket-read"),
            asyncio.create_task(connection.write(), name="room-socket-write"),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    except Refused as refused:
        close_code, close_reason = refused.code, refused.reason
    except WebSocketDisconnect:
        return
    finally:
        connection.subscription.close()
    with contextlib.suppress(Exception):
        await websocket.close(code=close_code, reason=close_reason)


@router.get("/realtime/schemas", response_model=RealtimeSchemasOut)
async def realtime_schemas() -> RealtimeSchemasOut:
    """JSON Schemas of every room event and WebSocket message, by name (for client validation)."""
    return realtime_schemas_document()


def realtime_schemas_document() -> RealtimeSchemasOut:
    """The document ``GET /realtime/schemas`` answers (also written by ``mitalk schemas``)."""
    return RealtimeSchemasOut(
        events={event_name(model): model.model_json_schema() for model in EVENT_TYPES},
        server_messages={_message_name(m): m.model_json_schema() for m in SERVER_MESSAGES},
        client_messages={
            "ping": PingMessage.model_json_schema(),
            "action": ActionMessage.model_json_schema(),
        },
        account_messages={_message_name(m): m.model_json_schema() for m in ACCOUNT_MESSAGES},
    )


def _message_name(model: type[BaseModel]) -> str:
    default = model.model_fields["type"].default
    return str(default)
