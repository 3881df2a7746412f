"""Hundreds of light listeners: the Go ``mitalk-swarm`` (bench/swarm/main.go) and its driver.

Why: an aiortc listener costs about 1.7 % of a core (it decodes Opus in Python), so 2 cores
carry 25-50 of them. A swarm listener is the same on the wire (ICE, DTLS-SRTP, receive-only
RTP from a Streaming mountpoint) but only checks each packet's sequence number and payload
size in Go; see bench/README.md for the measured cost of both. Audio is still proven: every
listener's packets are counted with their losses and their Opus payload sizes (silence is a
few bytes, a tone or a voice far more), and ``heard_frequency`` decodes a listener's last
payloads with aiortc's Opus decoder so a sample of listeners is checked for the tone itself.

Built on first use from Debian's packaged pion/webrtc (golang-go,
golang-github-pion-webrtc.v3-dev; scripts/setup.sh --bench installs them) in GOPATH mode with
the module proxy off: nothing is downloaded. The binary is cached by the source's hash.

Signaling stays the caller's: ``add(id, offer)`` returns the SDP answer to hand back to Janus
(or to Mi Talk's ``/media/answer``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mitalk.media.audio import Pcm, dominant_frequency, sounding_fraction, to_mono

SOURCE = Path(__file__).resolve().parent / "swarm" / "main.go"
DEBIAN_GOPATH = Path("/usr/share/gocode")
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mitalk"


class SwarmError(RuntimeError):
    """The swarm could not be built or started, or a listener was refused."""


def build_swarm() -> Path:
    """The ``mitalk-swarm`` binary for the current source, built from Debian's Go packages."""
    source = SOURCE.read_bytes()
    binary = CACHE / f"mitalk-swarm-{hashlib.sha256(source).hexdigest()[:16]}"
    if binary.exists():
        return binary
    go = shutil.which("go")
    if go is None or not (DEBIAN_GOPATH / "src/github.com/pion/webrtc").is_dir():
        raise SwarmError(
            "the listener swarm needs Go and Debian's pion/webrtc: "
            "apt-get install golang-go golang-github-pion-webrtc.v3-dev "
            "(or bash scripts/setup.sh --bench)"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mitalk-swarm-build-") as gopath:
        # GOPATH mode resolves pion's "/v2", "/v3" import paths to Debian's folders ("minimal
        # module compatibility"), which needs a go.mod beside the importing code.
        package = Path(gopath) / "src" / "mitalkswarm"
        package.mkdir(parents=True)
        (package / "main.go").write_bytes(source)
        (package / "go.mod").write_text("module mitalkswarm\n\ngo 1.19\n")
        env = {
            **os.environ,
            "GO111MODULE": "off",
            "GOPATH": f"{gopath}:{DEBIAN_GOPATH}",
            "GOPROXY": "off",
            "GOFLAGS": "",
            "CGO_ENABLED": "0",
        }
        partial = binary.with_suffix(".partial")
        result = subprocess.run(
            [go, "build", "-o", str(partial), "."],
            cwd=package, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise SwarmError(f"building mitalk-swarm failed:\n{result.stderr[-2000:]}")
        partial.replace(binary)
    return binary


@dataclass
class ListenerStats:
    """What one swarm listener received (cumulative over every stream it was given)."""

    packets: int
    bytes: int
    small: int  # payloads under 16 bytes: Opus silence, not sound
    lost: int
    streams: int
    first_ms: float
    last_ms: float
    max_gap_ms: float
    state: str

    @property
    def sound_packets(self) -> int:
        """Packets with a real Opus payload (a tone or a voice), not silence frames."""
        return self.packets - self.small


class Swarm:
    """A running ``mitalk-swarm`` process; use ``async with Swarm.started() as swarm``."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read(), name="swarm-reader")
        self._lock = asyncio.Lock()  # one stats/payloads/mark question at a time

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls) -> Any:
        """Build (if needed) and start the swarm; stop it on the way out."""
        binary = await asyncio.to_thread(build_swarm)
        process = await asyncio.create_subprocess_exec(
            str(binary),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            limit=64 * 1024 * 1024,  # a stats answer for hundreds of listeners is one line
        )
        swarm = cls(process)
        try:
            yield swarm
        finally:
            await swarm.stop()

    @property
    def pid(self) -> int:
        """The swarm's process id (to measure its CPU)."""
        return self.process.pid

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = json.loads(line)
            if "answer" in message or ("error" in message and "id" in message):
                key = f"add:{message['id']}"
            elif "closed" in message:
                key = f"close:{message['id']}"
            elif "payloads" in message:
                key = f"payloads:{message['id']}"
            elif "stats" in message:
                key = "stats"
            elif "marked" in message:
                key = "mark"
            else:
                key = "error"
            future = self._waiting.pop(key, None)
            if future is not None and not future.done():
                future.set_result(message)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(SwarmError("mitalk-swarm exited"))

    async def _ask(self, key: str, command: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.process.returncode is not None or self._reader.done():
            raise SwarmError("mitalk-swarm is not running")
        if key in self._waiting:
            raise SwarmError(f"already waiting for {key}")
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(key, None)

    async def add(self, listener_id: str, offer_sdp: str, timeout: float = 15.0) -> str:
        """Connect (or reconnect) a listener to this offer; return its SDP answer."""
        reply = await self._ask(
            f"add:{listener_id}", {"op": "add", "id": listener_id, "offer": offer_sdp}, timeout
        )
        if "error" in reply:
            raise SwarmError(f"listener {listener_id}: {reply['error']}")
        return str(reply["answer"])

    async def close(self, listener_id: str) -> None:
        """Close one listener's connection and forget it."""
        await self._ask(f"close:{listener_id}", {"op": "close", "id": listener_id}, 10.0)

    async def stats(self) -> dict[str, ListenerStats]:
        """Every listener's counters."""
        async with self._lock:
            reply = await self._ask("stats", {"op": "stats"}, 30.0)
        return {k: ListenerStats(**v) for k, v in reply["stats"].items()}

    async def mark(self) -> None:
        """Start a new window for every listener's longest silence (``max_gap_ms``)."""
        async with self._lock:
            await self._ask("mark", {"op": "mark"}, 10.0)

    async def payloads(self, listener_id: str) -> list[bytes]:
        """The last Opus payloads (about 2 s) a listener received, oldest first."""
        async with self._lock:
            reply = await self._ask(
                f"payloads:{listener_id}", {"op": "payloads", "id": listener_id}, 10.0
            )
        return [base64.b64decode(p) for p in reply["payloads"]]

    async def heard(self, listener_id: str) -> tuple[float, float]:
        """Decode a listener's last payloads: (sounding fraction, median frequency in Hz).

        The frequency is the median over 0.2 s windows: a gap or a repeated frame in the
        stream (a late packet under load) shifts a whole-stream FFT peak, not most windows.
        """
        samples = decode_opus(await self.payloads(listener_id))
        window = 48000 // 5
        frequencies = [
            dominant_frequency(samples[i : i + window], 48000)
            for i in range(0, len(samples) - window + 1, window)
            if np.abs(samples[i : i + window]).max() > 1000
        ]
        median = float(np.median(frequencies)) if frequencies else 0.0
        return sounding_fraction(samples, 48000), median

    async def stop(self) -> None:
        """Close every connection (stdin closes) and wait for the process to end."""
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                assert self.process.stdin is not None
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


def decode_opus(payloads: list[bytes]) -> Pcm:
    """Opus payloads (48 kHz, as Janus sends them) decoded to mono 16-bit samples."""
    from aiortc.codecs.opus import OpusDecoder
    from aiortc.jitterbuffer import JitterFrame

    decoder = OpusDecoder()
    chunks: list[Pcm] = []
    for index, payload in enumerate(payloads):
        for frame in decoder.decode(JitterFrame(data=payload, timestamp=index * 960)):
            # to_ndarray, not the plane's bytes: a plane is padded past the samples.
            interleaved = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)
            chunks.append(to_mono(interleaved, len(frame.layout.channels)))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
