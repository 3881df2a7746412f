"""aiortc peers that speak (a WAV file or a tone) and listen (recording what they hear).

They only do WebRTC: signaling (offers/answers) is done by the caller, today through
``stage.StageManager`` directly, later through Mi Talk's own API.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from mitalk.media.audio import (
    DEFAULT_SOUND_THRESHOLD_DBFS,
    Pcm,
    level_dbfs,
    read_wav,
    resample,
    tone,
    write_wav,
)

Jsep = dict[str, Any]

RATE = 48000
FRAME_SAMPLES = RATE // 50  # 20 ms, Opus's usual frame.


class PcmSourceTrack(MediaStreamTrack):
    """An audio track that plays mono samples in real time, looping, in 20 ms frames."""

    kind = "audio"

    def __init__(self, samples: Pcm, rate: int = RATE) -> None:
        super().__init__()
        self._samples = resample(samples, rate, RATE)
        if len(self._samples) == 0:
            raise ValueError("no samples to play")
        self._position = 0
        self._start: float | None = None
        self._timestamp = 0

    @classmethod
    def from_wav(cls, path: Path) -> PcmSourceTrack:
        """A track that loops the WAV file's audio."""
        samples, rate = read_wav(path)
        return cls(samples, rate)

    @classmethod
    def from_tone(cls, frequency: float, amplitude: float = 0.5) -> PcmSourceTrack:
        """A track that plays a steady sine tone."""
        # A whole number of periods per second, so looping the second adds no click.
        return cls(tone(frequency, 1.0, RATE, amplitude), RATE)

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame, paced to real time like aiortc's own audio tracks."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
        else:
            self._timestamp += FRAME_SAMPLES
            await asyncio.sleep(self._start + self._timestamp / RATE - time.time())
        indices = (np.arange(FRAME_SAMPLES) + self._position) % len(self._samples)
        self._position = int((self._position + FRAME_SAMPLES) % len(self._samples))
        chunk = self._samples[indices]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._timestamp
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class BurstSourceTrack(MediaStreamTrack):
    """Silence with tone bursts on request, remembering when each burst was handed over.

    For latency measurements: each burst starts on a frame boundary, and ``onsets`` holds the
    ``time.monotonic()`` at which the frame starting it was returned to the sender (the moment a
    live microphone would deliver it). Frames are paced to real time on the monotonic clock.
    ``steady = True`` plays the tone continuously instead (e.g. while measuring joins).
    """

    kind = "audio"

    def __init__(
        self,
        frequency: float = 1000.0,
        burst_seconds: float = 0.1,
        period_seconds: float = 0.4,
        amplitude: float = 0.5,
    ) -> None:
        super().__init__()
        frames = max(1, round(burst_seconds * RATE / FRAME_SAMPLES))
        self._burst = tone(frequency, frames * FRAME_SAMPLES / RATE, RATE, amplitude)
        # One second of tone: a whole number of periods for integer frequencies, so it loops.
        self._steady_tone = tone(frequency, 1.0, RATE, amplitude)
        self._period_frames = max(frames + 1, round(period_seconds * RATE / FRAME_SAMPLES))
        self.steady = False
        self.onsets: list[float] = []
        self._pending = 0
        self._next_burst_frame = 0
        self._burst_position: int | None = None
        self._frame_index = 0
        self._start: float | None = None

    def play_bursts(self, count: int) -> None:
        """Play ``count`` bursts, one per period, the first on the next frame."""
        self._pending += count
        self._next_burst_frame = self._frame_index

    @property
    def pending(self) -> int:
        """Bursts requested but not started yet."""
        return self._pending

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame: silence, part of a burst, or the steady tone."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(
                self._start + self._frame_index * FRAME_SAMPLES / RATE - time.monotonic()
            )
        chunk = np.zeros(FRAME_SAMPLES, np.int16)
        starts_burst = self._burst_position is None and self._frame_index >= self._next_burst_frame
        if self._pending and starts_burst:
            self._pending -= 1
            self._burst_position = 0
            self._next_burst_frame = self._frame_index + self._period_frames
            self.onsets.append(time.monotonic())
        if self._burst_position is not None:
            chunk = self._burst[self._burst_position : self._burst_position + FRAME_SAMPLES]
            self._burst_position += FRAME_SAMPLES
            if self._burst_position >= len(self._burst):
                self._burst_position = None
        elif self.steady:
            position = self._frame_index * FRAME_SAMPLES % len(self._steady_tone)
            chunk = self._steady_tone[position : position + FRAME_SAMPLES]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._frame_index * FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, RATE)
        self._frame_index += 1
        return frame


class TrackRecorder:
    """Reads a received audio track, keeping mono samples and when sound first arrived."""

    def __init__(self, threshold_dbfs: float = DEFAULT_SOUND_THRESHOLD_DBFS) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.rate = RATE
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self.first_frame_at: float | None = None
        self.first_sound_at: float | None = None
        self.got_sound = asyncio.Event()
        self._chunks: list[Pcm] = []
        self._task: asyncio.Task[None] | None = None
        # Optional: called with (time.monotonic() of arrival, mono samples) for every decoded
        # frame, e.g. to timestamp sound onsets as they arrive (bench/latency.py).
        self.on_frame: Callable[[float, Pcm], None] | None = None
        # Optional: keep only about this many seconds of the most recent audio (long runs with
        # many listeners would otherwise hold ~100 kB per second and listener).
        self.keep_seconds: float | None = None

    def attach(self, track: MediaStreamTrack) -> None:
        """Start reading ``track`` (an aiortc remote audio track)."""
        self._task = asyncio.create_task(self._read(track), name="track-recorder")

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                now = time.monotonic()
                self.first_frame_at = self.first_frame_at or now
                # Whatever layout the decoder gives (stereo Opus), keep 48 kHz mono s16.
                samples = np.concatenate(
                    [
                        np.asarray(mono.to_ndarray(), dtype=np.int16).reshape(-1)
                        for mono in self._resampler.resample(frame)
                    ]
                    or [np.zeros(0, np.int16)]
                )
                self._chunks.append(samples)
                if self.keep_seconds is not None and len(samples):
                    keep = max(1, int(self.keep_seconds * self.rate / len(samples)))
                    if len(self._chunks) > 2 * keep:  # Trim in steps: cheap per frame.
                        del self._chunks[:-keep]
                if self.on_frame is not None:
                    self.on_frame(now, samples)
                if self.first_sound_at is None and level_dbfs(samples) > self.threshold_dbfs:
                    self.first_sound_at = now
                    self.got_sound.set()

    def clear(self) -> None:
        """Forget what was recorded so far (e.g. to measure only after a change)."""
        self._chunks.clear()

    def samples(self, last_seconds: float | None = None) -> Pcm:
        """Everything recorded (or only the last seconds) as one mono array."""
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        if last_seconds is not None:
            samples = samples[-int(last_seconds * self.rate) :]
        return samples

    def save(self, path: Path) -> None:
        """Write the recording as a WAV file."""
        write_wav(path, self.samples(), self.rate)

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AudioPeer:
    """One WebRTC connection to Janus that may send a track and records what it receives."""

    def __init__(
        self, source: MediaStreamTrack | None = None, configuration: RTCConfiguration | None = None
    ) -> None:
        self.source = source
        self.recorder = TrackRecorder()
        self.connected_at: float | None = None  # time.monotonic() when it first connected
        # No ICE servers unless given: aiortc would otherwise add a public STUN server.
        self.pc = self._new_pc(configuration or RTCConfiguration(iceServers=[]))

    def _new_pc(self, configuration: RTCConfiguration) -> RTCPeerConnection:
        pc = RTCPeerConnection(configuration)
        pc.on("track", self._on_track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()

        return pc

    def use_configuration(self, configuration: RTCConfiguration) -> None:
        """Start over with other ICE servers or policy (before any offer or answer was made)."""
        if self.pc.localDescription is not None or self.pc.remoteDescription is not None:
            raise RuntimeError("the connection is already in use")
        self.pc = self._new_pc(configuration)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.recorder.attach(track)

    async def create_offer(self) -> Jsep:
        """An offer to send ``source`` (sendrecv) or, without one, to only receive audio."""
        if self.source is not None:
            self.pc.addTrack(self.source)
        else:
            self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self._local_jsep()

    async def accept_answer(self, answer: Jsep) -> None:
        """Apply the answer Janus returned to our offer."""
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))

    async def answer_offer(self, offer: Jsep) -> Jsep:
        """Answer an offer from Janus (a Streaming viewer); receive-only."""
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        # Janus offers sendonly and we add no track, so the answer is recvonly by itself.
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self._local_jsep()

    def _local_jsep(self) -> Jsep:
        description = self.pc.localDescription
        # aiortc gathers every candidate before returning and never trickles: tell Janus so.
        return {"type": description.type, "sdp": description.sdp, "trickle": False}

    async def close(self) -> None:
        """Stop recording and close the connection."""
        await self.recorder.stop()
        await self.pc.close()
        if self.source is not None:
            self.source.stop()


def speaker(wav: Path | None = None, frequency: float = 440.0) -> AudioPeer:
    """A peer that sends the WAV file's audio (looping), or a steady tone without a file."""
    source = PcmSourceTrack.from_wav(wav) if wav else PcmSourceTrack.from_tone(frequency)
    return AudioPeer(source)


def listener() -> AudioPeer:
    """A receive-only peer that records what it hears."""
    return AudioPeer()
