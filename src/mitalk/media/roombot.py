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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import av
import httpx
import numpy as np
import websockets
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from mitalk.media.audio import DEFAULT_SOUND_THRESHOLD_DBFS, Pcm, level_dbfs, write_wav

log = logging.getLogger(__name__)

RATE = 48000
SourceFactory = Callable[[], MediaStreamTrack]


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
        peer_connection: Callable[[], RTCPeerConnection] | None = None,
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
        self.http = httpx.AsyncClient(
            base_url=self.server,
            headers={"Authorization": f"Bearer {token}"},
            timeout=20.0,
            trust_env=False,
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
                    self._in_background(self.connect_media())
                elif kind in ("room.muted", "room.unmuted") and message["user_id"] == self.user_id:
                    self.muted = kind == "room.muted"
                elif kind == "room.media_reconnect":
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

    def _new_pc(self) -> RTCPeerConnection:
        # No ICE servers: aiortc would otherwise add a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

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

    async def _connect_once(self) -> None:
        self.media_ready.clear()
        pc = self.peer_connection() if self.peer_connection is not None else self._new_pc()
        try:
            if self.role in ("moderator", "speaker"):
                await self._speak(pc)
            elif self.role == "listener":
                await self._listen(pc)
            else:
                await pc.close()
                return
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
        await pc.setRemoteDescription(
            RTCSessionDescription(result["answer"]["sdp"], result["answer"]["type"])
        )
        self.muted = result["muted"]
        if self.muted and self.unmute_on_stage and not self._unmuted_once:
            self._unmuted_once = True
            await self.call("POST", f"{self.room_path}/unmute")
            self.muted = False

    async def _listen(self, pc: RTCPeerConnection) -> None:
        result = await self.call("POST", f"{self.room_path}/media/listen")
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

    async def connected(self, timeout: float = 10.0) -> None:
        """Wait until the current audio connection is up (ICE and DTLS done)."""
        async with asyncio.timeout(timeout):
            await self.media_ready.wait()
            while self.pc is None or self.pc.connectionState != "connected":
                await asyncio.sleep(0.02)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("bot background task failed: %r", task.exception())
