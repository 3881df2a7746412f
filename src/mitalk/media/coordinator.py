"""Rooms carry audio: the managed Janus, one stage per live room, and every seat on it.

The coordinator is the only part of Mi Talk that talks to Janus on behalf of people. It

- follows room events on the bus (``bus.subscribe(None)``): a created room gets a stage (an
  AudioBridge room fanned out to a Streaming mountpoint, see ``stage.py``), an ended room loses
  it, and a change to someone (left, removed, moved on or off stage, muted, unmuted) is applied
  to their seat by re-reading their state from the database: *state-based*, so an event that
  races with a signaling request can never leave Janus disagreeing with the database;
- answers the signaling endpoints: a moderator or speaker sends an SDP offer and the service
  joins AudioBridge for them with a one-time token, muted as the database says; anyone in the
  room may listen on the mountpoint (receive-only). Clients never see a Janus session, handle,
  token, pin or secret, and no client message ever reaches Janus: a muted participant cannot
  unmute itself through ``configure`` (JANUS-NOTES.md), because only this service configures;
- after every (re)start of Janus (supervisor ``on_ready``): re-creates the stages of live
  rooms, destroys stages no live room owns (Janus keeps rooms after their session ends), and
  publishes ``room.media_reconnect`` to every live room so clients connect their audio again;
- follows the AudioBridge ``talking`` / ``stopped-talking`` events Janus pushes on the stage
  seats' handles and publishes the ephemeral ``room.active_speaker`` (who most recently started
  talking among those still talking, null when nobody is), at most one event per room every
  ``ACTIVE_SPEAKER_MIN_INTERVAL`` seconds (changes in between are coalesced into the next).

The coordinator only reads the database, in its own short read-only sessions (never inside a
request's transaction: SQLite's write lock is held by that one).

Seats (Janus handles) live in this process's memory and in this Janus's admin session: one
API node owns the managed Janus. A pool of nodes would place rooms and route signaling to the
owning node; that is not built yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mitalk.core.database import Database, utcnow
from mitalk.core.ports import PortTaken
from mitalk.core.settings import Settings
from mitalk.media import repository as repo
from mitalk.media.candidates import CandidatePolicy, candidate_policy
from mitalk.media.errors import (
    ListenersCannotSpeak,
    MediaRefused,
    MediaUnavailable,
    NoConnectionToTrickle,
    NoOfferToAnswer,
    TooManyCandidates,
)
from mitalk.media.janus_client import (
    JanusClient,
    JanusError,
    JanusEvent,
    JanusUnavailable,
    Json,
)
from mitalk.media.locks import KeyedLocks
from mitalk.media.ports import API_PORT_SETTING, RTP_RANGE_SETTING
from mitalk.media.schemas import MAX_CANDIDATES_PER_CONNECTION
from mitalk.media.stage import Participant, StageManager, Viewer
from mitalk.media.supervisor import JanusSupervisor, managed_janus
from mitalk.media.turn import TurnCredentials, TurnSupervisor, turn_from_settings
from mitalk.realtime.bus import EventBus
from mitalk.realtime.events import EventBase
from mitalk.rooms import errors as room_errors
from mitalk.rooms import repository as rooms_repo
from mitalk.rooms.events import (
    ActiveSpeaker,
    Ended,
    MediaReconnect,
    Muted,
    ParticipantLeft,
    Removed,
    RoleChanged,
    RoomCreated,
    RoomEventBase,
    Unmuted,
)

log = logging.getLogger(__name__)

# Janus ids are unsigned 64-bit, but JSON numbers are exact only up to 2**53 in browsers.
_STAGE_ID_SPACE = 2**52 - 1

# At most one room.active_speaker per room per this many seconds: a room never sends clients
# more than 2 a second whatever its speakers do (Janus itself reports each speaker's change at
# most once per talking window, 0.5 s, see stage.TALKING_WINDOW_PACKETS).
ACTIVE_SPEAKER_MIN_INTERVAL = 0.5
# After a server-side unmute, when to ask Janus whether the person is talking (Janus only
# notifies changes, and may still hold "talking" from before the mute).
_UNMUTE_TALKING_RECHECK_SECONDS = 1.0


class MediaLayer(Protocol):
    """What the signaling endpoints and the room socket need from the media layer.

    ``MediaCoordinator`` (one managed Janus, ``MITALK_NODE_ROLE=all``) and
    ``pool.PoolCoordinator`` (media nodes, ``MITALK_NODE_ROLE=api``) both provide it.
    """

    async def speak(self, room_id: str, user_id: str, offer: Json) -> tuple[Json, bool]: ...

    async def listen(self, room_id: str, user_id: str) -> Json: ...

    async def answer(self, room_id: str, user_id: str, answer: Json) -> None: ...

    async def hang_up(self, room_id: str, user_id: str) -> None: ...

    async def trickle(
        self, room_id: str, user_id: str, candidates: list[Json], *, completed: bool
    ) -> None: ...

    async def health(self) -> str: ...

    async def ice_servers(self, room_id: str, user_id: str) -> list[dict[str, Any]]: ...

    def active_speaker(self, room_id: str) -> str | None: ...


def check_place(place: repo.Place, *, on_stage: bool) -> None:
    """Raise the rooms error that says why this person may not have (this kind of) audio."""
    if not place.room_exists:
        raise room_errors.RoomNotFound()
    if place.room_scheduled:
        raise room_errors.RoomNotStarted()
    if not place.room_live:
        raise room_errors.RoomEnded()
    if place.presence == rooms_repo.REMOVED:
        raise room_errors.RemovedFromRoom()
    if not place.present:
        raise room_errors.NotInRoom()
    if on_stage and not place.on_stage:
        raise ListenersCannotSpeak()


def _jsep(description: Json, policy: CandidatePolicy) -> Json:
    """What Janus gets of a client's description: type, SDP (without candidates ``policy``
    drops: media/candidates.py) and whether candidates trickle."""
    return {
        "type": str(description["type"]),
        "sdp": policy.sdp(str(description["sdp"])),
        "trickle": bool(description.get("trickle", False)),
    }


# Janus names a session after its room or mountpoint ("AudioBridge <id>", or the mountpoint's
# description "mitalk stage <id>"): the stage id, which the pin and secrets guard but which a
# client has no business knowing. The session name is free text to WebRTC.
_SESSION_NAME = re.compile(r"^s=[^\r\n]*", re.MULTILINE)


def public_jsep(jsep: Json) -> Json:
    """What clients get of a Janus JSEP: its type, and its SDP with a session name that says
    nothing of ours (``s=-``)."""
    return {"type": str(jsep["type"]), "sdp": _SESSION_NAME.sub("s=-", str(jsep["sdp"]))}


def stage_id_of(secret_key: bytes, room_id: str) -> int:
    """A room's stage id: keyed, so nobody can predict it from the public room id."""
    digest = hmac.new(secret_key, f"mitalk-room-stage:{room_id}".encode(), hashlib.sha256)
    return int.from_bytes(digest.digest()[:8], "big") % _STAGE_ID_SPACE + 1


@dataclass
class Seat:
    """One person's audio connection in one room, as Janus holds it for them."""

    kind: Literal["stage", "audience"]
    generation: int
    participant: Participant | None = None
    viewer: Viewer | None = None
    token: str | None = None
    muted: bool = True
    started: bool = False
    key: tuple[str, str] | None = None  # (room id, user id), for stage seats
    trickled: int = 0  # ICE candidates forwarded for this connection (bounded)


@dataclass
class RoomTalk:
    """Who is talking in one room, and what room.active_speaker said last."""

    talking: dict[str, None] = field(default_factory=dict)  # user ids, in the order they began
    published: str | None = None
    published_at: float = float("-inf")
    flush: asyncio.Task[None] | None = None

    @property
    def active(self) -> str | None:
        """The active speaker: who began talking most recently among those still talking."""
        return next(reversed(self.talking), None)


class MediaCoordinator:
    """Stages for live rooms and seats for people; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        bus: EventBus,
        supervisor: JanusSupervisor,
        *,
        turn: TurnCredentials | None = None,
        turn_server: TurnSupervisor | None = None,
    ) -> None:
        self.settings, self.db, self.bus, self.supervisor = settings, db, bus, supervisor
        # TURN: the credentials handed to clients, and the managed coturn (MITALK_TURN).
        self.turn, self.turn_server = turn, turn_server
        config = supervisor.config
        self.client = JanusClient(config.api_url, config.api_secret)
        self.secret_key = settings.resolved_secret_key
        self.stages = StageManager.from_config(self.client, config, self.secret_key)
        self.generation = 0
        self.seats: dict[tuple[str, str], Seat] = {}
        self._stage_generation: dict[str, int] = {}  # room id -> generation its stage is in
        # Only while in use: a request naming any room id must not leave a lock behind.
        self._room_locks: KeyedLocks[str] = KeyedLocks()
        self._seat_locks: KeyedLocks[tuple[str, str]] = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        # Active speakers: stage participant ids per room (to name who Janus says talks), and
        # who is talking in each room.
        self._stage_users: dict[str, dict[int, str]] = {}
        self._talk: dict[str, RoomTalk] = {}
        self._consumer: asyncio.Task[None] | None = None
        self.reconciled = asyncio.Event()  # set after each restart's re-creation (tests wait)

    # Life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow room events, then start Janus (its ``on_ready`` re-creates live stages)."""
        # Subscribed before Janus starts: nothing that happens meanwhile is missed.
        self._consumer = asyncio.create_task(self._consume(), name="media-coordinator")
        self.supervisor.on_ready(self._on_ready)
        try:
            if self.turn_server is not None:
                await self.turn_server.start()
            await self.supervisor.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop following events, stop Janus (its rooms go with it)."""
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.seats.clear()
        with contextlib.suppress(JanusError, JanusUnavailable):
            await self.stages.close()
        await self.supervisor.stop()
        if self.turn_server is not None:
            await self.turn_server.stop()
        await self.client.aclose()

    async def health(self) -> str:
        """``ok`` when Janus answers, else why not (for /healthz)."""
        if not self.supervisor.ready.is_set():
            return "unreachable: janus is not running (restarting)"
        try:
            await self.client.post("", {"janus": "info"}, timeout=2.0)
        except (JanusUnavailable, JanusError) as exc:
            return f"unreachable: {type(exc).__name__}"
        return "ok"

    def turn_health(self) -> str | None:
        """``ok`` when the managed coturn runs, else why not; None without a managed one."""
        return self.turn_server.health() if self.turn_server is not None else None

    async def ice_servers(self, room_id: str, user_id: str) -> list[dict[str, Any]]:
        """The ICE servers (TURN, fresh credentials) for one account's next connection."""
        return self.turn.ice_servers(user_id) if self.turn is not None else []

    # Names ---------------------------------------------------------------------------------

    def stage_id(self, room_id: str) -> int:
        """The stage (AudioBridge room and mountpoint id) of a room, derived, never stored."""
        return stage_id_of(self.secret_key, room_id)

    def _policy(self) -> CandidatePolicy:
        """Which of a client's ICE candidates Janus may use (media/candidates.py)."""
        return candidate_policy(self.settings)

    def _room_lock(self, room_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._room_locks.hold(room_id)

    def _seat_lock(self, key: tuple[str, str]) -> contextlib.AbstractAsyncContextManager[None]:
        return self._seat_locks.hold(key)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @contextlib.contextmanager
    def _janus_errors(self) -> Iterator[None]:
        """Janus trouble as API errors: unreachable is 503, a refusal 422."""
        try:
            yield
        except JanusUnavailable as exc:
            raise MediaUnavailable() from exc
        except JanusError as exc:
            if exc.code in (458, 459):  # Janus restarted under us
                raise MediaUnavailable() from exc
            log.info("janus refused a signaling request: %s", exc)
            raise MediaRefused() from exc

    def _require_ready(self) -> None:
        if not self.supervisor.ready.is_set() or self.generation == 0:
            raise MediaUnavailable()

    # Stages --------------------------------------------------------------------------------

    async def ensure_stage(self, room_id: str) -> bool:
        """Create the room's stage in the running Janus unless it is there (live rooms only).

        Returns whether it created one.
        """
        async with self._room_lock(room_id):
            generation = self.generation
            if self._stage_generation.get(room_id) == generation:
                return False
            # Read under the lock: a room that ended meanwhile must not get a stage back.
            async with self.db.read_sessions() as session:
                room = await rooms_repo.room_by_id(session, room_id)
            if room is None or room.status != "live":
                return False
            stage_id = self.stage_id(room_id)
            try:
                await self.stages.create_stage(stage_id)
            except JanusError as exc:
                # Left over (e.g. the service restarted, Janus did not): same secrets, so
                # destroy it and start clean.
                log.info("stage %s exists already (%s); re-creating it", stage_id, exc)
                await self.stages.destroy_stage(stage_id)
                await self.stages.create_stage(stage_id)
            self._stage_generation[room_id] = generation
            return True

    async def _room_live(self, room_id: str) -> None:
        if await self.ensure_stage(room_id):
            log.info("room %s is live: its stage is ready", room_id)

    async def _room_ended(self, room_id: str) -> None:
        await self.end_stage(room_id)
        log.info("room %s ended: its stage is gone", room_id)

    async def end_stage(self, room_id: str) -> None:
        """The room ended: destroy its stage and forget its seats."""
        async with self._room_lock(room_id):
            self._stage_generation.pop(room_id, None)
            self._stage_users.pop(room_id, None)
            talk = self._talk.pop(room_id, None)
            if talk is not None and talk.flush is not None:
                talk.flush.cancel()  # the room ended: nobody needs to hear who spoke
            try:
                await self.stages.destroy_stage(self.stage_id(room_id))
            except (JanusError, JanusUnavailable) as exc:
                # Janus is down: the next reconcile destroys it (the room is no longer live).
                log.warning("could not destroy the stage of ended room %s: %s", room_id, exc)
        for key in [key for key in self.seats if key[0] == room_id]:
            async with self._seat_lock(key):
                seat = self.seats.pop(key, None)
                if seat is not None:
                    await self._release(seat, kick=False)

    async def _on_ready(self, generation: int) -> None:
        """Janus (re)started and knows no rooms: rebuild, reconcile, tell clients to reconnect."""
        self.reconciled.clear()
        self.generation = generation
        # Every seat belonged to the dead Janus: its handles are gone with it.
        for key, seat in list(self.seats.items()):
            if seat.generation < generation:
                self.seats.pop(key, None)
        self._stage_users.clear()
        for room_id in list(self._talk):
            for user_id in list(self._talk[room_id].talking):
                self._set_talking(room_id, user_id, talking=False)
        async with self.db.read_sessions() as session:
            live = await repo.live_room_ids(session)
        for room_id in live:
            try:
                await self.ensure_stage(room_id)
            except (JanusError, JanusUnavailable) as exc:
                log.error("could not re-create the stage of room %s: %s", room_id, exc)
        destroyed = await self.stages.reconcile(self.stage_id(r) for r in live)
        if destroyed:
            log.info("destroyed %d stages no live room owns: %s", len(destroyed), destroyed)
        # "janus ready" said the rest; only rebuilt rooms are news at the default level.
        log.log(
            logging.INFO if live else logging.DEBUG,
            "janus generation %d: the stages of %d live rooms are ready",
            generation,
            len(live),
        )
        for room_id in live:
            await self.bus.publish(MediaReconnect(room_id=room_id, at=utcnow()))
        self.reconciled.set()

    # Events --------------------------------------------------------------------------------

    async def _consume(self) -> None:
        while True:
            with self.bus.subscribe(None) as subscription:
                while True:
                    event = await subscription.get()
                    if event is None:
                        # Events were lost: rebuild from the database as after a restart,
                        # except that Janus still holds the seats (sync each one instead).
                        log.warning("media coordinator fell behind the event bus; resyncing")
                        self._spawn(self._resync_everything())
                        break
                    self._dispatch(event)

    def _dispatch(self, event: EventBase) -> None:
        if isinstance(event, RoomCreated):
            self._spawn(self._quietly(self._room_live(event.room_id), event))
        elif isinstance(event, Ended):
            self._spawn(self._quietly(self._room_ended(event.room_id), event))
        elif isinstance(event, ParticipantLeft | Removed | RoleChanged | Muted | Unmuted):
            self._spawn(self._quietly(self.sync_seat(event.room_id, event.user_id), event))

    async def _quietly(self, work: Coroutine[Any, Any, None], event: RoomEventBase) -> None:
        try:
            await work
        except (JanusError, JanusUnavailable) as exc:
            # Janus down: its restart re-creates everything from the database.
            log.warning("media could not apply %s to room %s: %s", event.type, event.room_id, exc)

    async def _resync_everything(self) -> None:
        async with self.db.read_sessions() as session:
            live = set(await repo.live_room_ids(session))
        for room_id in live:
            await self.ensure_stage(room_id)
        for room_id in set(self._stage_generation) - live:
            await self.end_stage(room_id)
        for room_id, user_id in list(self.seats):
            await self.sync_seat(room_id, user_id)

    async def sync_seat(self, room_id: str, user_id: str) -> None:
        """Make someone's seat match the database: drop it, kick it off stage, (un)mute it."""
        key = (room_id, user_id)
        async with self._seat_lock(key):
            seat = self.seats.get(key)
            if seat is None or seat.generation != self.generation:
                return
            async with self.db.read_sessions() as session:
                place = await repo.place_of(session, room_id, user_id)
            if seat.kind == "audience":
                if not place.present:
                    self.seats.pop(key, None)
                    await self._release(seat, kick=False)
                return
            if not place.on_stage:
                # Left, removed or moved to the audience: off the AudioBridge room now, and
                # the token is dropped from `allowed` (a kick alone does not ban).
                self.seats.pop(key, None)
                await self._release(seat, kick=True)
                return
            if seat.muted != place.muted and seat.participant is not None:
                stage_id = self.stage_id(room_id)
                participant_id = seat.participant.participant_id
                if place.muted:
                    await self.stages.mute(stage_id, participant_id)
                else:
                    await self.stages.unmute(stage_id, participant_id)
                seat.muted = place.muted
                if place.muted:
                    self._set_talking(room_id, user_id, talking=False)
                else:
                    self._spawn(self._recheck_talking(room_id, user_id, participant_id))

    async def _release(self, seat: Seat, *, kick: bool) -> None:
        """Take a seat away in Janus (best effort: a dead Janus has no seats anyway)."""
        if seat.key is not None and seat.participant is not None:
            room_id, user_id = seat.key
            self._stage_users.get(room_id, {}).pop(seat.participant.participant_id, None)
            current = self.seats.get(seat.key)
            if current is None or current is seat:
                self._set_talking(room_id, user_id, talking=False)
        try:
            if seat.participant is not None:
                stage_id = seat.participant.stage_id
                if kick:
                    await self.stages.kick(stage_id, seat.participant.participant_id, seat.token)
                elif seat.token is not None:
                    with contextlib.suppress(JanusError):
                        await self.stages.disallow(stage_id, [seat.token])
                await self.stages.leave(seat.participant)
            if seat.viewer is not None:
                await self.stages.leave(seat.viewer)
        except (JanusError, JanusUnavailable) as exc:
            log.info("releasing a seat failed (janus gone?): %s", exc)

    # Signaling -----------------------------------------------------------------------------

    async def _place(self, room_id: str, user_id: str) -> repo.Place:
        async with self.db.read_sessions() as session:
            return await repo.place_of(session, room_id, user_id)

    async def speak(self, room_id: str, user_id: str, offer: Json) -> tuple[Json, bool]:
        """Join the stage with the caller's offer; return Janus's answer and the muted state."""
        self._require_ready()
        with self._janus_errors():
            await self.ensure_stage(room_id)
        key = (room_id, user_id)
        async with self._seat_lock(key):
            # Read inside the lock: a mute committed before this read is applied at join; one
            # committed after it reaches sync_seat, which waits for this lock.
            place = await self._place(room_id, user_id)
            check_place(place, on_stage=True)
            stage_id = self.stage_id(room_id)
            token = secrets.token_urlsafe(18)
            with self._janus_errors():
                await self.stages.allow(stage_id, [token])
                try:
                    participant = await self.stages.join(
                        stage_id, token, _jsep(offer, self._policy()), muted=place.muted
                    )
                except BaseException:
                    with contextlib.suppress(JanusError, JanusUnavailable):
                        await self.stages.disallow(stage_id, [token])
                    raise
            previous = self.seats.get(key)
            self.seats[key] = Seat(
                kind="stage",
                generation=self.generation,
                participant=participant,
                token=token,
                muted=place.muted,
                started=True,
                key=key,
            )
            self._follow_talking(room_id, user_id, participant)
            if previous is not None and previous.kind == "stage":
                # Whatever the old connection was saying, the new one has not begun yet.
                self._set_talking(room_id, user_id, talking=False)
            if previous is not None:
                await self._release(previous, kick=previous.kind == "stage")
        return public_jsep(participant.answer), place.muted

    async def listen(self, room_id: str, user_id: str) -> Json:
        """Start a receive-only seat on the mountpoint; return Janus's offer to answer."""
        self._require_ready()
        with self._janus_errors():
            await self.ensure_stage(room_id)
        key = (room_id, user_id)
        async with self._seat_lock(key):
            check_place(await self._place(room_id, user_id), on_stage=False)
            with self._janus_errors():
                viewer = await self.stages.watch(self.stage_id(room_id))
            previous = self.seats.get(key)
            self.seats[key] = Seat(kind="audience", generation=self.generation, viewer=viewer)
            if previous is not None:
                await self._release(previous, kick=previous.kind == "stage")
        return public_jsep(viewer.offer)

    async def answer(self, room_id: str, user_id: str, answer: Json) -> None:
        """Apply the listener's answer to the mountpoint's offer and start the stream."""
        self._require_ready()
        key = (room_id, user_id)
        async with self._seat_lock(key):
            check_place(await self._place(room_id, user_id), on_stage=False)
            seat = self.seats.get(key)
            if seat is None or seat.viewer is None or seat.started:
                raise NoOfferToAnswer()
            with self._janus_errors():
                await self.stages.start_viewer(seat.viewer, _jsep(answer, self._policy()))
            seat.started = True

    async def trickle(
        self, room_id: str, user_id: str, candidates: list[Json], *, completed: bool
    ) -> None:
        """Forward the caller's trickled ICE candidates to Janus, on the caller's own seat only.

        Clients still never address Janus: the server picks the handle (the seat it made for
        this person in this room), and a candidate is data for that one PeerConnection.
        """
        self._require_ready()
        key = (room_id, user_id)
        async with self._seat_lock(key):
            place = await self._place(room_id, user_id)
            seat = self.seats.get(key)
            check_place(place, on_stage=seat is not None and seat.kind == "stage")
            if seat is None or seat.generation != self.generation or not seat.started:
                raise NoConnectionToTrickle()
            if seat.trickled + len(candidates) > MAX_CANDIDATES_PER_CONNECTION:
                raise TooManyCandidates()
            seat.trickled += len(candidates)  # dropped ones count too: they were sent
            handle = seat.participant.handle if seat.participant is not None else None
            if handle is None and seat.viewer is not None:
                handle = seat.viewer.handle
            assert handle is not None
            usable = self._policy().candidates(candidates)
            if not usable and not completed:
                return
            with self._janus_errors():
                await handle.trickle(usable, completed=completed)

    # Active speaker ------------------------------------------------------------------------

    def _follow_talking(self, room_id: str, user_id: str, participant: Participant) -> None:
        """Read the talking events Janus pushes on this stage seat's handle."""
        self._stage_users.setdefault(room_id, {})[participant.participant_id] = user_id
        participant.handle.listener = lambda event: self._on_stage_event(room_id, event)

    def _on_stage_event(self, room_id: str, event: JanusEvent) -> None:
        """A pushed AudioBridge event; every participant's handle hears about everyone."""
        what = event.data.get("audiobridge")
        if what not in ("talking", "stopped-talking"):
            return
        try:
            participant_id = int(event.data.get("id", 0))
        except (TypeError, ValueError):
            return
        user_id = self._stage_users.get(room_id, {}).get(participant_id)
        if user_id is None:
            return
        seat = self.seats.get((room_id, user_id))
        if (
            seat is None
            or seat.participant is None
            or seat.participant.participant_id != participant_id
            or seat.generation != self.generation
        ):
            return
        # A muted person is never announced, whatever Janus measures of what they send.
        self._set_talking(room_id, user_id, talking=what == "talking" and not seat.muted)

    async def _recheck_talking(self, room_id: str, user_id: str, participant_id: int) -> None:
        """After an unmute: Janus may already count them as talking and will not say so again."""
        await asyncio.sleep(_UNMUTE_TALKING_RECHECK_SECONDS)
        seat = self.seats.get((room_id, user_id))
        if seat is None or seat.muted or seat.participant is None:
            return
        if seat.participant.participant_id != participant_id:
            return
        try:
            listed = await self.stages.participants(self.stage_id(room_id))
        except (JanusError, JanusUnavailable):
            return
        talking = any(e.get("id") == participant_id and e.get("talking") is True for e in listed)
        if talking and not seat.muted and self.seats.get((room_id, user_id)) is seat:
            self._set_talking(room_id, user_id, talking=True)

    def _set_talking(self, room_id: str, user_id: str, *, talking: bool) -> None:
        """Record a change and schedule room.active_speaker (rate-limited per room)."""
        talk = self._talk.get(room_id)
        if talking:
            if talk is None:
                talk = self._talk[room_id] = RoomTalk()
            if user_id in talk.talking:
                return
            talk.talking[user_id] = None
        else:
            if talk is None or user_id not in talk.talking:
                return
            del talk.talking[user_id]
        if talk.flush is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, talk.published_at + ACTIVE_SPEAKER_MIN_INTERVAL - loop.time())
            task = asyncio.create_task(self._publish_speaker(room_id, talk, delay))
            talk.flush = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def active_speaker(self, room_id: str) -> str | None:
        """Who ``room.active_speaker`` last named in this room (None: nobody talks, or unknown)."""
        talk = self._talk.get(room_id)
        return talk.published if talk is not None else None

    async def _publish_speaker(self, room_id: str, talk: RoomTalk, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            talk.flush = None  # later changes schedule a new publication
        active = talk.active
        if active == talk.published:
            return  # changed and changed back in between: nothing to say
        talk.published = active
        talk.published_at = asyncio.get_running_loop().time()
        try:
            await self.bus.publish(ActiveSpeaker(room_id=room_id, at=utcnow(), user_id=active))
        except Exception:
            log.exception("could not publish the active speaker of room %s", room_id)

    async def hang_up(self, room_id: str, user_id: str) -> None:
        """Drop the caller's audio connection in this room, if any."""
        key = (room_id, user_id)
        async with self._seat_lock(key):
            seat = self.seats.pop(key, None)
            if seat is not None:
                await self._release(seat, kick=seat.kind == "stage")


_PORT_FIELDS = {API_PORT_SETTING: "janus_api_port", RTP_RANGE_SETTING: "janus_rtp_port_range"}


async def start_media(settings: Settings, db: Database, bus: EventBus) -> MediaCoordinator:
    """Start the managed Janus and the coordinator of its stages (``MITALK_MEDIA=managed``).

    Raises PortTaken (one line for the operator) when a port set explicitly is in use.
    """
    for attempt in range(3):
        supervisor = managed_janus(settings)
        turn, turn_server = turn_from_settings(settings, supervisor.config.media_interface)
        coordinator = MediaCoordinator(
            settings, db, bus, supervisor, turn=turn, turn_server=turn_server
        )
        try:
            await coordinator.start()
        except PortTaken as taken:
            # Another service took a default Janus port between our check and Janus's bind
            # (two started at once): check again and pick others; never for explicit ones.
            field = _PORT_FIELDS.get(taken.setting)
            if attempt == 2 or field is None or field in settings.model_fields_set:
                raise
            log.warning("%s; choosing again", taken.problem)
            continue
        return coordinator
    raise AssertionError("unreachable")
