"""Stages on one Janus node: an AudioBridge room (speakers) fanned out to a Streaming mountpoint.

A stage is identified by one integer, used as both the AudioBridge room id and the Streaming
mountpoint id. Speakers join the room with a token from its ``allowed`` list and hear the
room's mix; the audience watches the mountpoint, which receives the mix over plain RTP from
the room's ``rtp_forward`` on loopback (see shared/JANUS-NOTES.md, "Streaming").

Secrets (room secret, mountpoint secret and pin) are derived from the service's key and the
stage id rather than stored: after a restart of the service, rooms Janus still holds can be
destroyed (Janus requires the room secret even with the admin key), and after a restart of
Janus the same stage can be re-created with the same secrets.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from mitalk.media.janus_client import (
    NO_SUCH_HANDLE,
    NO_SUCH_SESSION,
    JanusClient,
    JanusError,
    JanusEvent,
    JanusHandle,
    JanusPluginError,
    JanusSession,
    Json,
)
from mitalk.media.janus_config import JanusConfig

log = logging.getLogger(__name__)

AUDIOBRIDGE = "janus.plugin.audiobridge"
STREAMING = "janus.plugin.streaming"
OPUS_PAYLOAD_TYPE = 111
# SRTP of a stage's mix forwarded to edges on other nodes: AES_CM_128_HMAC_SHA1_80.
SRTP_SUITE = 80

# Plugin error codes that mean "already gone", which destroy/kick treat as success.
AUDIOBRIDGE_NO_SUCH_ROOM = 485
AUDIOBRIDGE_NO_SUCH_USER = 487
STREAMING_NO_SUCH_MOUNTPOINT = 455

# Talking detection (AudioBridge ``audio_active_packets`` / ``audio_level_average``): windows of
# 25 packets (0.5 s of 20 ms Opus frames; Janus's default of 100 makes 2 s windows, and short
# bursts were never reported), talking when the window's mean level is above -40 dBov (normal
# speech sits around -20 to -30 dBov, a quiet room below -50; Janus's default, 25, misses
# quieter microphones).
TALKING_WINDOW_PACKETS = 25
TALKING_LEVEL_THRESHOLD = 40


@dataclass(frozen=True)
class Stage:
    """What exists in Janus for one stage."""

    stage_id: int
    forward_port: int
    forwarder_id: int


@dataclass
class Participant:
    """A speaker's seat in the AudioBridge room: its own handle and Janus's SDP answer."""

    stage_id: int
    participant_id: int
    handle: JanusHandle
    answer: Json


@dataclass
class Viewer:
    """An audience member on the mountpoint: its handle and Janus's SDP offer to answer."""

    stage_id: int
    handle: JanusHandle
    offer: Json


class StageManager:
    """Creates, changes and destroys stages on one Janus node through one Janus session."""

    def __init__(
        self,
        client: JanusClient,
        *,
        audiobridge_admin_key: str,
        streaming_admin_key: str,
        secret_key: bytes,
        prebuffering: int = 2,
        sampling_rate: int = 48000,
        forward_host: str = "127.0.0.1",
        keepalive_interval: float = 15.0,
    ) -> None:
        self.client = client
        self.audiobridge_admin_key = audiobridge_admin_key
        self.streaming_admin_key = streaming_admin_key
        self.secret_key = secret_key
        # 2 packets measured well here; 0 garbles audio (shared/JANUS-NOTES.md).
        self.prebuffering = prebuffering
        self.sampling_rate = sampling_rate
        # Where the room's mix is sent and where the mountpoint listens: loopback keeps anyone
        # else from injecting RTP into the mountpoint. A remote node would use a private address.
        self.forward_host = forward_host
        self.keepalive_interval = keepalive_interval
        self._session: JanusSession | None = None
        self._bridge: JanusHandle | None = None
        self._streaming: JanusHandle | None = None
        self._session_lock = asyncio.Lock()

    @classmethod
    def from_config(
        cls, client: JanusClient, config: JanusConfig, secret_key: bytes
    ) -> StageManager:
        """A manager for a Janus started from ``config``, keeping sessions alive in time."""
        return cls(
            client,
            audiobridge_admin_key=config.audiobridge_admin_key,
            streaming_admin_key=config.streaming_admin_key,
            secret_key=secret_key,
            # Three keepalives per timeout: one lost or late request does not cost the session.
            keepalive_interval=config.session_timeout / 3,
        )

    # Secrets -------------------------------------------------------------------------------

    def _derive(self, purpose: str, stage_id: int) -> str:
        message = f"mitalk-stage:{purpose}:{stage_id}".encode()
        return hmac.new(self.secret_key, message, hashlib.sha256).hexdigest()[:32]

    def room_secret(self, stage_id: int) -> str:
        """The AudioBridge room secret (needed to mute, kick, forward, destroy)."""
        return self._derive("room-secret", stage_id)

    def mountpoint_secret(self, stage_id: int) -> str:
        """The Streaming mountpoint secret (needed to destroy it)."""
        return self._derive("mountpoint-secret", stage_id)

    def mountpoint_pin(self, stage_id: int) -> str:
        """The mountpoint pin (needed to watch); only the service ever sends it."""
        return self._derive("mountpoint-pin", stage_id)

    # Session -------------------------------------------------------------------------------

    async def _handles(self) -> tuple[JanusSession, JanusHandle, JanusHandle]:
        """The admin session and handles, re-created if Janus lost them (e.g. it restarted)."""
        async with self._session_lock:
            session, bridge, streaming = self._session, self._bridge, self._streaming
            if session is None or session.lost.is_set() or bridge is None or streaming is None:
                if session is not None and not session.lost.is_set():
                    await session.destroy()
                session = await self.client.create_session(
                    keepalive_interval=self.keepalive_interval
                )
                bridge = await session.attach(AUDIOBRIDGE)
                streaming = await session.attach(STREAMING)
                self._session, self._bridge, self._streaming = session, bridge, streaming
            return session, bridge, streaming

    async def _request(self, plugin: str, body: Json) -> Json:
        """Send an admin request, once more on a fresh session if Janus forgot ours."""
        for attempt in (1, 2):
            _, bridge, streaming = await self._handles()
            try:
                return await (bridge if plugin == AUDIOBRIDGE else streaming).request(body)
            except JanusError as exc:
                # 458/459: Janus restarted or dropped the handle; the request was not run, so
                # repeating it on a new session is safe.
                if exc.code not in (NO_SUCH_SESSION, NO_SUCH_HANDLE) or attempt == 2:
                    raise
                self._bridge = self._streaming = None
        raise AssertionError("unreachable")

    async def _attach(self, plugin: str) -> JanusHandle:
        """A new handle on the admin session (one per participant or viewer connection)."""
        for attempt in (1, 2):
            session, _, _ = await self._handles()
            try:
                return await session.attach(plugin)
            except JanusError as exc:
                if exc.code != NO_SUCH_SESSION or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Destroy the admin session (stages stay: Janus keeps them until destroyed)."""
        if self._session is not None:
            await self._session.destroy()
        self._session = self._bridge = self._streaming = None

    # Stages --------------------------------------------------------------------------------

    async def create_stage(self, stage_id: int, allowed_tokens: Iterable[str] = ()) -> Stage:
        """Create the room, its mountpoint and the always-on forward of the mix to it."""
        await self._request(
            AUDIOBRIDGE,
            {
                "request": "create",
                "room": stage_id,
                "admin_key": self.audiobridge_admin_key,
                "secret": self.room_secret(stage_id),
                "description": f"mitalk stage {stage_id}",
                "is_private": True,
                "permanent": False,
                "allowed": list(allowed_tokens),
                "sampling_rate": self.sampling_rate,
                # Talking / stopped-talking events for the room's active speaker: Janus
                # averages each participant's RTP audio level (-dBov, 0 loud, 127 silent) over
                # TALKING_WINDOW_PACKETS packets and calls them talking below the threshold;
                # it only notifies changes, so each speaker changes state at most once a window.
                "audiolevel_event": True,
                "audio_active_packets": TALKING_WINDOW_PACKETS,
                "audio_level_average": TALKING_LEVEL_THRESHOLD,
                "default_prebuffering": self.prebuffering,
            },
        )
        try:
            created = await self._request(
                STREAMING,
                {
                    "request": "create",
                    "type": "rtp",
                    "id": stage_id,
                    "admin_key": self.streaming_admin_key,
                    "secret": self.mountpoint_secret(stage_id),
                    "pin": self.mountpoint_pin(stage_id),
                    "description": f"mitalk stage {stage_id}",
                    "is_private": True,
                    "permanent": False,
                    "media": [
                        {
                            "type": "audio",
                            "mid": "a",
                            "port": 0,  # Janus picks one from the Streaming port range.
                            "pt": OPUS_PAYLOAD_TYPE,
                            "codec": "opus",
                            "iface": self.forward_host,
                        }
                    ],
                },
            )
            port = int(created["stream"]["ports"][0]["port"])
            forward = await self._request(
                AUDIOBRIDGE,
                {
                    "request": "rtp_forward",
                    "room": stage_id,
                    "secret": self.room_secret(stage_id),
                    "admin_key": self.audiobridge_admin_key,
                    "host": self.forward_host,
                    "port": port,
                    "codec": "opus",
                    "ptype": OPUS_PAYLOAD_TYPE,
                    # Forward even while nobody speaks, so viewers get a steady stream.
                    "always_on": True,
                },
            )
        except BaseException:
            await self.destroy_stage(stage_id)
            raise
        return Stage(stage_id=stage_id, forward_port=port, forwarder_id=int(forward["stream_id"]))

    async def destroy_stage(self, stage_id: int) -> None:
        """Destroy the mountpoint and the room (which drops its participants and forwarder)."""
        await self.destroy_mountpoint(stage_id)
        try:
            await self._request(
                AUDIOBRIDGE,
                {
                    "request": "destroy",
                    "room": stage_id,
                    "secret": self.room_secret(stage_id),
                    "permanent": False,
                },
            )
        except JanusPluginError as exc:
            if exc.code != AUDIOBRIDGE_NO_SUCH_ROOM:
                raise

    # Edges: the mix forwarded to mountpoints on other nodes -----------------------------------

    def forward_crypto(self, stage_id: int) -> str:
        """The SRTP key (base64 SDES, AES_CM_128 key + salt) of a stage's forwarded mix.

        The same on the stage node and every edge (both derive it from the shared key), so an
        edge's mountpoint only accepts what the stage sends: nobody else on the private network
        can inject audio into it.
        """
        digest = hmac.new(self.secret_key, f"mitalk-stage:forward:{stage_id}".encode(), "sha256")
        return base64.b64encode(digest.digest()[:30]).decode()

    async def create_edge_mountpoint(self, stage_id: int, address: str) -> int:
        """A mountpoint receiving a remote stage's mix over SRTP on ``address``; its port."""
        created = await self._request(
            STREAMING,
            {
                "request": "create",
                "type": "rtp",
                "id": stage_id,
                "admin_key": self.streaming_admin_key,
                "secret": self.mountpoint_secret(stage_id),
                "pin": self.mountpoint_pin(stage_id),
                "description": f"mitalk edge {stage_id}",
                "is_private": True,
                "permanent": False,
                "srtpsuite": SRTP_SUITE,
                "srtpcrypto": self.forward_crypto(stage_id),
                "media": [
                    {
                        "type": "audio",
                        "mid": "a",
                        "port": 0,
                        "pt": OPUS_PAYLOAD_TYPE,
                        "codec": "opus",
                        "iface": address,
                    }
                ],
            },
        )
        return int(created["stream"]["ports"][0]["port"])

    async def destroy_mountpoint(self, stage_id: int) -> None:
        """Destroy an edge's mountpoint (its viewers lose the stream)."""
        try:
            await self._request(
                STREAMING,
                {
                    "request": "destroy",
                    "id": stage_id,
                    "secret": self.mountpoint_secret(stage_id),
                    "permanent": False,
                },
            )
        except JanusPluginError as exc:
            if exc.code != STREAMING_NO_SUCH_MOUNTPOINT:
                raise

    async def forward_to(self, stage_id: int, host: str, port: int) -> int:
        """Forward the stage's mix to an edge's mountpoint over SRTP; the forwarder's id."""
        forward = await self._request(
            AUDIOBRIDGE,
            {
                "request": "rtp_forward",
                "room": stage_id,
                "secret": self.room_secret(stage_id),
                "admin_key": self.audiobridge_admin_key,
                "host": host,
                "port": port,
                "codec": "opus",
                "ptype": OPUS_PAYLOAD_TYPE,
                "always_on": True,
                "srtp_suite": SRTP_SUITE,
                "srtp_crypto": self.forward_crypto(stage_id),
            },
        )
        return int(forward["stream_id"])

    async def stop_forward(self, stage_id: int, forwarder_id: int) -> None:
        """Stop one forward of the stage's mix (an edge drained or gone)."""
        try:
            await self._request(
                AUDIOBRIDGE,
                {
                    "request": "stop_rtp_forward",
                    "room": stage_id,
                    "secret": self.room_secret(stage_id),
                    "admin_key": self.audiobridge_admin_key,
                    "stream_id": forwarder_id,
                },
            )
        except JanusPluginError as exc:
            if exc.code != AUDIOBRIDGE_NO_SUCH_ROOM:
                raise

    async def list_rooms(self) -> list[int]:
        """Ids of every AudioBridge room on the node, private ones included."""
        data = await self._request(
            AUDIOBRIDGE, {"request": "list", "admin_key": self.audiobridge_admin_key}
        )
        return [int(room["room"]) for room in data.get("list", [])]

    async def list_mountpoints(self) -> list[int]:
        """Ids of every Streaming mountpoint on the node, private ones included."""
        data = await self._request(
            STREAMING, {"request": "list", "admin_key": self.streaming_admin_key}
        )
        return [int(mountpoint["id"]) for mountpoint in data.get("list", [])]

    async def reconcile(self, known_stage_ids: Iterable[int]) -> list[int]:
        """Destroy rooms and mountpoints the service does not know; return their ids."""
        known = set(known_stage_ids)
        unknown = (set(await self.list_rooms()) | set(await self.list_mountpoints())) - known
        destroyed = []
        for stage_id in sorted(unknown):
            try:
                await self.destroy_stage(stage_id)
                destroyed.append(stage_id)
            except JanusError as exc:
                # Not created with our key (e.g. by hand): leave it, but say so.
                log.warning("cannot destroy unknown stage %s on Janus: %s", stage_id, exc)
        return destroyed

    # Who may speak ---------------------------------------------------------------------------

    async def allow(self, stage_id: int, tokens: Iterable[str]) -> None:
        """Let these tokens join the room."""
        await self._allowed(stage_id, "add", tokens)

    async def disallow(self, stage_id: int, tokens: Iterable[str]) -> None:
        """Stop these tokens from joining (does not remove who already joined: see kick)."""
        await self._allowed(stage_id, "remove", tokens)

    async def _allowed(self, stage_id: int, action: str, tokens: Iterable[str]) -> None:
        await self._request(
            AUDIOBRIDGE,
            {
                "request": "allowed",
                "room": stage_id,
                "secret": self.room_secret(stage_id),
                "action": action,
                "allowed": list(tokens),
            },
        )

    # Speakers --------------------------------------------------------------------------------

    async def join(
        self,
        stage_id: int,
        token: str,
        offer: Json,
        *,
        muted: bool = False,
        display: str | None = None,
    ) -> Participant:
        """Join a participant with its SDP offer; return its seat with Janus's answer."""
        # One handle per participant: a handle carries exactly one PeerConnection.
        handle = await self._attach(AUDIOBRIDGE)
        body: Json = {"request": "join", "room": stage_id, "token": token, "muted": muted}
        if display is not None:
            body["display"] = display
        try:
            event = await handle.message(body, offer)
            if event.jsep is None:
                raise JanusError(0, f"AudioBridge join gave no SDP answer: {event.data}")
        except BaseException:
            await handle.detach()
            raise
        return Participant(
            stage_id=stage_id,
            participant_id=int(event.data["id"]),
            handle=handle,
            answer=event.jsep,
        )

    async def mute(self, stage_id: int, participant_id: int) -> None:
        """Mute a participant server-side (the service must never relay its own unmute)."""
        await self._moderate("mute", stage_id, participant_id)

    async def unmute(self, stage_id: int, participant_id: int) -> None:
        """Unmute a participant server-side."""
        await self._moderate("unmute", stage_id, participant_id)

    async def kick(self, stage_id: int, participant_id: int, token: str | None = None) -> None:
        """Remove a participant and, given its token, stop it rejoining (kick does not ban)."""
        if token is not None:
            await self.disallow(stage_id, [token])
        try:
            await self._moderate("kick", stage_id, participant_id)
        except JanusPluginError as exc:
            if exc.code != AUDIOBRIDGE_NO_SUCH_USER:
                raise

    async def _moderate(self, request: str, stage_id: int, participant_id: int) -> None:
        await self._request(
            AUDIOBRIDGE,
            {
                "request": request,
                "room": stage_id,
                "secret": self.room_secret(stage_id),
                "id": participant_id,
            },
        )

    async def participants(self, stage_id: int) -> list[Json]:
        """The room's participants as Janus reports them (id, display, muted, talking)."""
        data = await self._request(AUDIOBRIDGE, {"request": "listparticipants", "room": stage_id})
        return list(data.get("participants", []))

    async def leave(self, seat: Participant | Viewer) -> None:
        """Drop a participant's or viewer's connection by detaching its handle."""
        await seat.handle.detach()

    # Audience --------------------------------------------------------------------------------

    async def watch(self, stage_id: int) -> Viewer:
        """Start watching the stage's mountpoint; the viewer must answer ``Viewer.offer``."""
        handle = await self._attach(STREAMING)
        try:
            event = await handle.message(
                {"request": "watch", "id": stage_id, "pin": self.mountpoint_pin(stage_id)}
            )
            if event.jsep is None:
                raise JanusError(0, f"Streaming watch gave no SDP offer: {event.data}")
        except BaseException:
            await handle.detach()
            raise
        return Viewer(stage_id=stage_id, handle=handle, offer=event.jsep)

    async def start_viewer(self, viewer: Viewer, answer: Json) -> JanusEvent:
        """Send the viewer's SDP answer and start the stream."""
        return await viewer.handle.message({"request": "start"}, answer)
