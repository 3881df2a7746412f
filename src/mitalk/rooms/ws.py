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

Delivery on a node: every socket subscribes to its room on the bus, which queues each event
for the socket's writer task, which reorders by ``seq`` and sends through ASGI. Under
``mitalk serve`` (``core/ws_protocol.py``) a socket that has caught up (snapshot sent, queue
empty, nothing held back) is *live*: the bus's fan-out itself writes the next in-order event to
it, as the frame encoded once per event per node, with no task woken and no ASGI send; a room's
10,000 sockets cost one fan-out loop of writes. Any event the live path cannot take as it is
(out of order, about this account's role or removal, the room's end, or the socket's write
buffer over its high-water mark: a slow reader) goes to the queue, and the socket stays off the
live path until its writer has caught up again. So the guarantees are those of the queue:
events in ``seq`` order per socket, each once; a slow socket holds up nobody else (its events
wait in its queue, up to ``SUBSCRIBER_QUEUE``, then ``resync``); the closes above are unchanged.
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
from mitalk.accounts.dependencies import session_token
from mitalk.accounts.service import Admission, Authenticated
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.errors import AppError, ErrorBody, NotActive
from mitalk.core.ratelimit import RateLimiter
from mitalk.core.settings import Settings
from mitalk.core.ws_protocol import FRAME_WRITER, FrameWriter, text_frame
from mitalk.realtime.bus import EventBus, Subscription, contiguous
from mitalk.realtime.events import EventBase
from mitalk.realtime.schemas import document
from mitalk.realtime.sockets import (
    CLOSE_MESSAGES,
    CLOSE_SESSION_ENDED,
    OpenSocket,
    SocketRegistry,
)
from mitalk.rooms import service as rooms
from mitalk.rooms.events import (
    ActiveSpeaker,
    ParticipantJoined,
    ParticipantLeft,
    Removed,
    RoleChanged,
)
from mitalk.rooms.schemas import (
    SERVER_MESSAGES,
    AckMessage,
    ActionMessage,
    ErrorMessage,
    ParticipantOut,
    PingMessage,
    PongMessage,
    ResumedMessage,
    ResyncMessage,
    RoomOut,
    SnapshotMessage,
    client_message_adapter,
)

log = structlog.get_logger(__name__)

router = APIRouter(tags=["realtime"])
document("server_messages", SERVER_MESSAGES)
document("client_messages", {"ping": PingMessage, "action": ActionMessage})

CLOSE_NORMAL = 1000


class Refused(Exception):
    """The socket must close (after an error message, if any)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def _member(
    session: AsyncSession,
    settings: Settings,
    admission: Admission,
    token: str | None,
    now: dt.datetime,
) -> Authenticated:
    signed_in = await accounts.authenticate_session(session, settings, admission, token, now)
    if signed_in.user.status != "active":
        raise NotActive()
    return signed_in


# The bus hands one event object to every socket of its room on this node: serialize it once,
# not once per socket (10,000 sockets made that the largest part of a fan-out, bench/sockets.py),
# and for the direct path (below) encode its frame once too. Keyed by id() with the event kept
# alongside, so a recycled id never matches another event.
_PREPARED_KEEP = 256


class _Prepared:
    """What every socket of a node needs of one event, computed once."""

    __slots__ = ("about", "event", "frame", "last", "text")

    def __init__(self, event: EventBase) -> None:
        self.event = event
        self.text = event.model_dump_json()
        self.frame: bytes | None = None
        # The account whose role the event changes or that it removes (its own sockets take
        # the queued path, which tracks the role and closes), and whether it ends the room
        # (every socket closes after it: the queued path again).
        self.about: str | None = None
        if isinstance(event, ParticipantJoined):
            self.about = event.participant.user_id
        elif isinstance(event, RoleChanged | ParticipantLeft | Removed):
            self.about = event.user_id
        self.last = event.type == "room.ended"


_prepared_events: dict[int, _Prepared] = {}


def _prepared(event: EventBase) -> _Prepared:
    """The event's JSON and more, computed once per event object on this node."""
    cached = _prepared_events.get(id(event))
    if cached is not None and cached.event is event:
        return cached
    prepared = _Prepared(event)
    if len(_prepared_events) >= _PREPARED_KEEP:
        del _prepared_events[next(iter(_prepared_events))]  # the oldest
    _prepared_events[id(event)] = prepared
    return prepared


def _serialized(event: EventBase) -> str:
    """The event's JSON, computed once per event object on this node."""
    return _prepared(event).text


def _frame(prepared: _Prepared) -> bytes:
    """The event's WebSocket frame, encoded once per event object on this node."""
    if prepared.frame is None:
        prepared.frame = text_frame(prepared.text)
    return prepared.frame


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
        admission: Admission,
    ) -> None:
        self.websocket, self.room_id, self.token = websocket, room_id, token
        self.db, self.bus, self.settings, self.clock = db, bus, settings, clock
        self.admission = admission
        extensions = websocket.scope.get("extensions") or {}
        self.frames: FrameWriter | None = extensions.get(FRAME_WRITER)
        self.live = False  # the direct path is open (see ``_direct``)
        self.subscription: Subscription = self._subscribe()
        self.user_id = ""
        self.session_id = ""
        self.expires_at: dt.datetime | None = None
        self.role: str | None = None
        self.last_seq = 0
        self.pending: dict[int, EventBase] = {}
        self.gap_deadline: float | None = None
        self._send_lock = asyncio.Lock()

    def _subscribe(self) -> Subscription:
        """Follow the room's events (before reading a snapshot): queued, and through
        ``_direct`` when the server can take frames directly."""
        return self.bus.subscribe(self.room_id, self._direct if self.frames is not None else None)

    def _direct(self, event: EventBase) -> bool:
        """The direct path: write a live socket's next event now, from the bus's fan-out.

        A socket is live while its writer (``write``) waits on an empty queue with nothing held
        back: it has sent its snapshot and everything since, in order. Then the next event, if
        it is the next ``seq`` (or has none), is written here as the frame encoded once for
        every socket of the node, and ``last_seq`` advances; no task wakes. Everything else
        goes to the queue and the socket stops being live until its writer has caught up:
        an event out of order (held back there until the gap fills), one that changes this
        account's role or ends the socket (the writer acts on it), and any event while the
        connection's write buffer is over its high-water mark (a slow reader: the writer's
        ASGI send waits for it; a queue that overflows gets ``resync`` as before). So events
        still reach each socket in ``seq`` order, and a slow socket never holds up the others.
        A socket that is closing is skipped (its handler is ending)."""
        if not self.live:
            return False
        seq = event.seq
        if seq is not None:
            if seq <= self.last_seq:
                return True  # already sent
            if seq != self.last_seq + 1:
                self.live = False
                return False
        prepared = _prepared(event)
        if prepared.last or prepared.about == self.user_id:
            self.live = False
            return False
        if self._is_recipient(event):
            assert self.frames is not None
            if self.frames.write(_frame(prepared)) == "busy":
                self.live = False
                return False
        if seq is not None:
            self.last_seq = seq
        return True

    async def send(self, message: BaseModel) -> None:
        """Send one message (reader and writer share the socket)."""
        text = _serialized(message) if isinstance(message, EventBase) else message.model_dump_json()
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def snapshot(self) -> RoomOut:
        """Authenticate and read the room in one short transaction."""
        async with unit_of_work(self.db) as session:
            signed_in = await _member(
                session, self.settings, self.admission, self.token, self.clock()
            )
            room = await rooms.get_room(session, self.room_id, signed_in.user)
        self.user_id = signed_in.user.id
        self.session_id, self.expires_at = signed_in.session_id, signed_in.expires_at
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
        self.live = False
        self.subscription.close()
        self.subscription = self._subscribe()
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
        try:
            while True:
                await self._write_next(loop)
        finally:
            self.live = False

    async def _write_next(self, loop: asyncio.AbstractEventLoop) -> None:
        timeout = None if self.gap_deadline is None else max(0.0, self.gap_deadline - loop.time())
        # Caught up: the next events may go the direct path until one needs this writer.
        self.live = self.frames is not None and not self.pending and self.subscription.idle()
        try:
            event = await asyncio.wait_for(self.subscription.get(), timeout)
        except TimeoutError:
            self.live = False
            await self._fill_gap()
            return
        self.live = False
        if event is None:
            await self._resync("fell_behind")
            return
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
                signed_in = await _member(session, self.settings, self.admission, self.token, now)
                user = signed_in.user
                participant: ParticipantOut | None = None
                if message.type != "leave":  # leaving is never refused
                    limiter: RateLimiter = self.websocket.app.state.rate_limiter
                    await rooms.count_action(limiter, self.settings, user)
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
        app.state.admission,
    )
    close_code, close_reason = CLOSE_NORMAL, ""
    registry: SocketRegistry = app.state.sockets
    registered: OpenSocket | None = None
    try:
        await connection.open(after)
        # Registered from here on: the session's end or the account's socket cap closes it.
        registered = await registry.open(
            connection.user_id, connection.session_id, "room", connection.expires_at
        )
        await _still_signed_in(connection, app.state.clock())
        closing: asyncio.Future[Any] = registered.closing
        tasks: set[asyncio.Future[Any]] = {
            asyncio.create_task(connection.read(), name="room-socket-read"),
            asyncio.create_task(connection.write(), name="room-socket-write"),
            closing,
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if closing in done and not closing.cancelled():
            code, reason = closing.result()
            await _say_why(connection, reason)
            raise Refused(code, reason)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    except Refused as refused:
        close_code, close_reason = refused.code, refused.reason
    except WebSocketDisconnect:
        return
    finally:
        connection.subscription.close()
        if registered is not None:
            await registry.release(registered)
    with contextlib.suppress(Exception):
        await websocket.close(code=close_code, reason=close_reason)


async def _say_why(connection: RoomConnection, reason: str) -> None:
    """One error message before a registry-requested close (if the socket still takes it)."""
    body = ErrorBody(code=reason, message=CLOSE_MESSAGES.get(reason, reason))
    with contextlib.suppress(Exception):
        await connection.send(ErrorMessage(error=body))


async def _still_signed_in(connection: RoomConnection, now: dt.datetime) -> None:
    """A session ended between the socket's sign-in check and its registration was not heard
    by the registry: look once more, now that an ending would be."""
    if not await accounts.session_is_live(connection.db, connection.session_id, now):
        await _say_why(connection, CLOSE_SESSION_ENDED[1])
        raise Refused(*CLOSE_SESSION_ENDED)
