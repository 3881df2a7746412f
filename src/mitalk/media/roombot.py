"""A headless participant that uses only Mi Talk's public API: REST, the room WebSocket, WebRTC.

What ``mitalk bot speak|listen`` runs, and what the media tests drive. A bot joins the room,
follows its event stream and keeps its audio connected the way the web client must:

- on stage (moderator, speaker) it posts an SDP offer to ``…/media/offer`` (sending its source,
  or receive-only without one) and hears the stage's mix; in the audience it asks
  ``…/media/listen`` and answers the stage's offer (receive-only);
- ``room.role_changed`` about itself moves its audio (a new connection replaces the old one);
  ``room.media_reconnect`` (the media server restarted) connects it again;
- ``room.removed`` about itself or ``room.ended`` stop it.

Everything received is kept with its arrival time (``Timeline``), across reconnections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import av
import httpx
import numpy as np
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from mitalk.media.audio import DEFAULT_SOUND_THRESHOLD_DBFS, Pcm, level_dbfs, write_wav

log = logging.getLogger(__name__)

RATE = 48000
SourceFactory = Callable[[], MediaStreamTrack]
PeerFactory = Callable[[RTCConfiguration], RTCPeerConnection]
TurnTransport = Literal["udp", "tcp", "tls"]
# Reuse ICE servers fetched for a speaker's offer this long (their credentials last minutes).
_ICE_SERVERS_REUSE_SECONDS = 60.0


def _turn_transport_of(url: str) -> TurnTransport | None:
    if url.startswith("turns:"):
        return "tls"
    if url.startswith("turn:"):
        return "tcp" if "transport=tcp" in url else "udp"
    return None


def ice_configuration(
    ice_servers: list[dict[str, Any]], *, relay: bool = False, turn: TurnTransport | None = None
) -> RTCConfiguration:
    """The RTCConfiguration for the server's ``ice_servers``.

    aiortc uses only the first TURN URL it supports, so ``turn`` picks which of the server's
    URLs that is (UDP, TCP or TLS; default: the server's order). ``relay`` allows relay
    candidates only (``iceTransportPolicy: "relay"``), as ``mitalk bot … --relay`` does.
    """
    servers = []
    for server in ice_servers:
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        if turn is not None:
            urls = [u for u in urls if _turn_transport_of(u) in (turn, None)]
        if urls:
            servers.append(
                RTCIceServer(
                    urls=urls, username=server.get("username"), credential=server.get("credential")
                )
            )
    has_turn = any(_turn_transport_of(u) for s in servers for u in s.urls)
    if relay and not has_turn:
        wanted = f" over {turn.upper()}" if turn else ""
        raise BotError(
            0, "no_relay", f"--relay needs a TURN server{wanted}; the server offers none"
        )
    policy = RTCIceTransportPolicy.RELAY if relay else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=policy)


@dataclass(frozen=True)
class SelectedPair:
    """The candidate pair ICE chose for a connection: types and addresses of both ends."""

    local_type: str
    local_address: str
    remote_type: str
    remote_address: str

    def __str__(self) -> str:
        return (
            f"{self.local_type} {self.local_address} -> {self.remote_type} {self.remote_address}"
        )


def selected_pair(pc: RTCPeerConnection) -> SelectedPair | None:
    """The nominated candidate pair of a connection's audio (None before ICE completes)."""
    for transceiver in pc.getTransceivers():
        ice = transceiver.receiver.transport.transport
        # aiortc keeps aioice's connection on the gatherer; its nominated pair is what
        # carries the media (aiortc exposes no getStats candidate-pair report).
        pair = ice.iceGatherer._connection._nominated.get(1)
        if pair is not None:
            local, remote = pair.local_candidate, pair.remote_candidate
            return SelectedPair(
                local.type,
                f"{local.host}:{local.port}",
                remote.type,
                f"{remote.host}:{remote.port}",
            )
    return None


class BotError(Exception):
    """The server refused the bot (status and error code as the API gave them)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code = status, code


@dataclass
class Timeline:
    """Decoded audio as (arrival time on ``time.monotonic()``, 48 kHz mono samples) frames."""

    frames: list[tuple[float, Pcm]] = field(default_factory=list)

    def add(self, at: float, samples: Pcm) -> None:
        self.frames.append((at, samples))

    def samples(self, since: float = 0.0, until: float = float("inf")) -> Pcm:
        """Everything that arrived in ``[since, until)``, as one array."""
        chunks = [s for at, s in self.frames if since <= at < until]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    def first_sound(
        self, since: float = 0.0, threshold_dbfs: float = DEFAULT_SOUND_THRESHOLD_DBFS
    ) -> float | None:
        """Arrival time of the first frame louder than the threshold after ``since``."""
        for at, samples in self.frames:
            if at >= since and level_dbfs(samples) > threshold_dbfs:
                return at
        return None

    def save(self, path: Path) -> None:
        """Write what was heard as a WAV file (frames back to back)."""
        write_wav(path, self.samples(), RATE)


async def _record(track: MediaStreamTrack, timeline: Timeline) -> None:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with contextlib.suppress(MediaStreamError):
        while True:
            frame = await track.recv()
            if not isinstance(frame, av.AudioFrame):
                continue
            now = time.monotonic()
            for mono in resampler.resample(frame):
                timeline.add(now, np.asarray(mono.to_ndarray(), dtype=np.int16).reshape(-1))


class RoomBot:
    """One account in one room with its audio; see the module docstring."""

    def __init__(
        self,
        server: str,
        token: str,
        room_id: str,
        *,
        source: SourceFactory | None = None,
        unmute_on_stage: bool = False,
        raise_hand: bool = False,
        send_as_listener: bool = False,
        media_retry_seconds: float = 10.0,
        peer_connection: PeerFactory | None = None,
        relay: bool = False,
        turn: TurnTransport | None = None,
    ) -> None:
        self.server = server.rstrip("/")
        self.token, self.room_id = token, room_id
        self.source = source
        # Speakers come on stage muted; a speaking bot unmutes itself once when it arrives
        # there (never again after a moderator mutes it).
        self.unmute_on_stage = unmute_on_stage
        self.raise_hand = raise_hand
        # Misbehaving on purpose (tests): put the source into a listener's answer too.
        self.send_as_listener = send_as_listener
        self.media_retry_seconds = media_retry_seconds
        # Who builds each audio connection: by default the bot, recording into ``timeline``; a
        # caller that reads the received track itself (bench/latency.py) passes a factory.
        self.peer_connection = peer_connection
        # ICE: only relay candidates (--relay), and which of the server's TURN URLs to use.
        self.relay, self.turn = relay, turn
        self._ice_servers: tuple[float, list[dict[str, Any]]] | None = None
        self.configuration: RTCConfiguration | None = None  # of the latest connection
        self.http = httpx.AsyncClient(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}"},
            timeout=20.0,
            trust_env=False,
            # The system's CAs (SSL_CERT_FILE names another bundle, e.g. a private CA's), as the
            # room WebSocket and TURN over TLS use them: one trust store for all three.
            verify=ssl.create_default_context(),
        )
        self.timeline = Timeline()
        self.user_id = ""
        self.join_requested_at: float | None = None  # time.monotonic() of POST …/join
        self.role: str | None = None
        self.muted = True
        self.pc: RTCPeerConnection | None = None
        self.connections = 0  # audio connections made so far
        self.media_ready = asyncio.Event()
        self.gone = asyncio.Event()  # removed, or the room ended
        self.gone_reason: str | None = None
        self._unmuted_once = False
        self._ws: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._media_lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._snapshot = asyncio.Event()

    # REST ----------------------------------------------------------------------------------

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """Call the API under /api/v1; raise BotError on an error answer."""
        response = await self.http.request(method, f"/api/v1{path}", json=body)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:200]}
            raise BotError(response.status_code, error["code"], error["message"])
        return response.json() if response.content else None

    @property
    def room_path(self) -> str:
        return f"/rooms/{self.room_id}"

    # Life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the room, follow its events and connect audio as the role says."""
        me = await self.call("GET", "/me")
        self.user_id = me["id"]
        self.join_requested_at = time.monotonic()
        room = await self.call("POST", f"{self.room_path}/join")
        self._apply_room(room)
        ws_url = self.server.replace("http", "ws", 1) + f"/api/v1{self.room_path}/ws"
        self._ws = await websockets.connect(
            ws_url, additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=20
        )
        self._reader = asyncio.create_task(self._read_events(), name="bot-events")
        await asyncio.wait_for(self._snapshot.wait(), 20)
        if self.role == "listener" and self.raise_hand:
            with contextlib.suppress(BotError):
                await self.call("POST", f"{self.room_path}/hand")
        await self.connect_media()

    async def close(self, *, leave: bool = True) -> None:
        """Hang up, leave the room (unless removed or ended), stop."""
        for task in list(self._tasks):
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self.pc is not None:
            await self.pc.close()
            self.pc = None
        if leave and not self.gone.is_set():
            with contextlib.suppress(BotError, httpx.HTTPError):
                await self.call("DELETE", f"{self.room_path}/media")
            with contextlib.suppress(BotError, httpx.HTTPError):
                await self.call("POST", f"{self.room_path}/leave")
        await self.http.aclose()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    # Events --------------------------------------------------------------------------------

    def _apply_room(self, room: dict[str, Any]) -> None:
        me = next((p for p in room["participants"] if p["user_id"] == self.user_id), None)
        if me is not None:
            self.role, self.muted = me["role"], me["muted"]

    async def _read_events(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "snapshot":
                    self._apply_room(message["room"])
                    self._snapshot.set()
                elif kind == "room.role_changed" and message["user_id"] == self.user_id:
                    self.role, self.muted = message["role"], message["muted"]
                    # The next connection may be on another media node, with its own TURN.
                    self._ice_servers = None
                    self._in_background(self.connect_media())
                elif kind in ("room.muted", "room.unmuted") and message["user_id"] == self.user_id:
                    self.muted = kind == "room.muted"
                elif kind == "room.media_reconnect":
                    self._ice_servers = None  # the media node (and its TURN) may be gone
                    self._in_background(self.connect_media())
                elif kind == "room.removed" and message["user_id"] == self.user_id:
                    self._stop("removed")
                elif kind == "room.ended":
                    self._stop("ended")
        except websockets.ConnectionClosed:
            pass
        if not self.gone.is_set():
            self._stop("disconnected")

    def _stop(self, reason: str) -> None:
        self.gone_reason = self.gone_reason or reason
        self.gone.set()

    def _in_background(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    # Media ---------------------------------------------------------------------------------

    def _new_pc(self, configuration: RTCConfiguration) -> RTCPeerConnection:
        # Only the server's ICE servers (an empty list still keeps aiortc from adding a
        # public STUN server of its own).
        pc = RTCPeerConnection(configuration)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self._in_background(_record(track, self.timeline))

        return pc

    async def connect_media(self) -> None:
        """(Re)connect audio as the current role says; a new connection replaces the old."""
        async with self._media_lock:
            deadline = time.monotonic() + self.media_retry_seconds
            while not self.gone.is_set():
                try:
                    await self._connect_once()
                    return
                except BotError as exc:
                    # 503: the media server is restarting (a reconnect event follows).
                    if exc.status != 503 or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)

    def _make_pc(self, ice_servers: list[dict[str, Any]]) -> RTCPeerConnection:
        self.configuration = ice_configuration(ice_servers, relay=self.relay, turn=self.turn)
        make = self.peer_connection or self._new_pc
        return make(self.configuration)

    async def _speaker_ice_servers(self) -> list[dict[str, Any]]:
        """ICE servers for a new offer: the latest ones while fresh, else asked for."""
        if self._ice_servers is not None:
            fetched_at, servers = self._ice_servers
            if time.monotonic() - fetched_at < _ICE_SERVERS_REUSE_SECONDS:
                return servers
        servers = (await self.call("GET", f"{self.room_path}/media/ice-servers"))["ice_servers"]
        self._ice_servers = (time.monotonic(), servers)
        return list(servers)

    async def _connect_once(self) -> None:
        self.media_ready.clear()
        if self.role in ("moderator", "speaker"):
            pc = self._make_pc(await self._speaker_ice_servers())
            work = self._speak(pc)
        elif self.role == "listener":
            result = await self.call("POST", f"{self.room_path}/media/listen")
            self._ice_servers = (time.monotonic(), result["ice_servers"])
            pc = self._make_pc(result["ice_servers"])
            work = self._listen(pc, result)
        else:
            return
        try:
            await work
        except BaseException:
            await pc.close()
            raise
        previous, self.pc = self.pc, pc
        self.connections += 1
        if previous is not None:
            await previous.close()
        self.media_ready.set()

    async def _speak(self, pc: RTCPeerConnection) -> None:
        if self.source is not None:
            pc.addTrack(self.source())
        else:
            pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        result = await self.call("POST", f"{self.room_path}/media/offer", offer)
        self._ice_servers = (time.monotonic(), result["ice_servers"])
        await pc.setRemoteDescription(
            RTCSessionDescription(result["answer"]["sdp"], result["answer"]["type"])
        )
        self.muted = result["muted"]
        if self.muted and self.unmute_on_stage and not self._unmuted_once:
            self._unmuted_once = True
            await self.call("POST", f"{self.room_path}/unmute")
            self.muted = False

    async def _listen(self, pc: RTCPeerConnection, result: dict[str, Any]) -> None:
        await pc.setRemoteDescription(
            RTCSessionDescription(result["offer"]["sdp"], result["offer"]["type"])
        )
        if self.send_as_listener and self.source is not None:
            pc.addTrack(self.source())
        await pc.setLocalDescription(await pc.createAnswer())
        sdp = pc.localDescription.sdp
        if self.send_as_listener:
            # Claim to send as well, as a tampered client would.
            sdp = sdp.replace("a=recvonly", "a=sendrecv").replace("a=inactive", "a=sendonly")
        await self.call("POST", f"{self.room_path}/media/answer", {"type": "answer", "sdp": sdp})

    def selected_pair(self) -> SelectedPair | None:
        """The candidate pair carrying the current connection's audio (see ``selected_pair``)."""
        return selected_pair(self.pc) if self.pc is not None else None

    async def connected(self, timeout: float = 10.0) -> None:
        """Wait until the current audio connection is up (ICE and DTLS done)."""
        async with asyncio.timeout(timeout):
            await self.media_ready.wait()
            while self.pc is None or self.pc.connectionState != "connected":
                await asyncio.sleep(0.02)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("bot background task failed: %r", task.exception())
