"""Shared harness of the media benchmarks: private namespace, managed Janus, routes, CPU counters.

Namespace: like tests/media/conftest.py, the benchmark creates its own network namespace with
scripts/netns.sh (veth mt0 10.99.0.1 <-> mt1 10.99.0.2, both ends inside) and moves the
process's main thread into it with setns(2) *before* the event loop and any thread exist. Janus
(a child), httpx, aiortc's sockets and every thread started later inherit it, so media only
flows between two addresses of that namespace. It is deleted on the way out: normal end,
exception, Ctrl-C (asyncio cancels the main task) and SIGTERM (handled the same way). A
namespace left by a SIGKILLed run is removed by the next run (its pid is in the name).

Routes: a benchmark never signals by itself; it hands a bot (``AudioPeer``) to a ``Route``'s
``join_speaker`` / ``join_listener`` and gets back a coroutine function that leaves again. The
server route goes through a real ``mitalk serve`` started in the namespace (``mitalk_server``):
REST + the room WebSocket + the /media endpoints, driven by ``mitalk.media.roombot.RoomBot``
(what ``mitalk bot`` runs), with the server's own managed Janus. The other routes call
``StageManager`` on a Janus started here (AudioBridge, Streaming) or connect two peers directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection

from mitalk.media.audio import Pcm, first_above
from mitalk.media.bots import AudioPeer
from mitalk.media.janus_client import JanusClient
from mitalk.media.janus_config import write_janus_config
from mitalk.media.roombot import BotError, RoomBot, TurnTransport, selected_pair
from mitalk.media.stage import Participant, StageManager, Viewer
from mitalk.media.supervisor import JanusSupervisor

ROOT = Path(__file__).resolve().parents[1]
NETNS_SCRIPT = ROOT / "scripts" / "netns.sh"
NETNS_PREFIX = "mitalk-bench-"
MEDIA_INTERFACE = "mt0"  # scripts/netns.sh puts 10.99.0.1 on it; Janus offers media there.
CLONE_NEWNET = 0x40000000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

T = TypeVar("T")
Leave = Callable[[], Awaitable[None]]

_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(RuntimeError):
    """The benchmark cannot run or its media did not flow."""


# Namespace ---------------------------------------------------------------------------------


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _remove_stale_namespaces() -> None:
    """Delete namespaces of earlier benchmark runs whose process is gone (e.g. SIGKILLed)."""
    names = os.listdir("/run/netns") if os.path.isdir("/run/netns") else []
    for name in names:
        match = re.fullmatch(rf"{NETNS_PREFIX}(\d+)-\w+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def _netns_script(action: str, name: str) -> None:
    result = subprocess.run(
        ["bash", str(NETNS_SCRIPT), action, name], check=False, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise BenchError(f"netns.sh {action} {name} failed: {result.stderr.strip()}")


@contextlib.contextmanager
def private_netns() -> Iterator[str]:
    """A fresh namespace with the calling (main) thread inside it; deleted afterwards."""
    if os.geteuid() != 0:
        raise BenchError("run as root: the benchmark creates a network namespace")
    for tool in ("ip", "janus"):
        if shutil.which(tool) is None:
            raise BenchError(f"`{tool}` is not on PATH (apt-get install iproute2 janus)")
    if threading.current_thread() is not threading.main_thread() or threading.active_count() > 1:
        # Threads that exist before setns stay in the host namespace: enter it first.
        raise BenchError("enter the namespace from the main thread before starting threads")
    _remove_stale_namespaces()
    name = f"{NETNS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}"
    _netns_script("up", name)
    try:
        host_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(f"/run/netns/{name}", os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            here = os.stat("/proc/thread-self/ns/net").st_ino
            if here != os.stat(f"/run/netns/{name}").st_ino:
                raise BenchError("setns did not move the main thread into the namespace")
            try:
                yield name
            finally:
                _setns(host_fd)
        finally:
            os.close(host_fd)
    finally:
        _netns_script("down", name)


def run(main: Callable[[], Coroutine[Any, Any, T]], time_limit: float) -> T:
    """Run ``main`` inside a private namespace, stopping it after ``time_limit`` seconds.

    SIGTERM and SIGHUP cancel it like Ctrl-C does, so Janus is stopped and the namespace
    deleted on every way out. Exits the process with a message on failure.
    """

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, task.cancel)
        async with asyncio.timeout(time_limit):
            return await main()

    try:
        with private_netns():
            return asyncio.run(guarded())
    except TimeoutError:
        sys.exit(f"benchmark stopped: over its time limit of {time_limit:.0f} s")
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("benchmark interrupted; Janus stopped and namespace deleted")
    except BenchError as exc:
        sys.exit(f"benchmark failed: {exc}")


# Janus -------------------------------------------------------------------------------------


@dataclass
class JanusStack:
    """The running Janus and the stage manager the room service would use."""

    supervisor: JanusSupervisor
    stages: StageManager

    @property
    def pid(self) -> int:
        """Pid of the Janus process (setpriv execs it, so this is Janus itself)."""
        pid = self.supervisor.pid
        if pid is None:
            raise BenchError("Janus is not running")
        return pid


@contextlib.asynccontextmanager
async def janus_stack(event_loops: int | None = None) -> AsyncIterator[JanusStack]:
    """Start a Janus like ``mitalk serve`` would (generated locked-down config) in the netns.

    ``event_loops`` overrides Janus's ``general.event_loops`` (the size of the shared pool of
    media threads; 0 = one thread per handle, Janus's own default) for experiments; ``None``
    keeps what ``mitalk serve`` generates (see ``write_janus_config``).
    """
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-janus-") as folder:
        loops: dict[str, Any] = {} if event_loops is None else {"event_loops": event_loops}
        config = write_janus_config(
            Path(folder),
            api_port=8188,  # The namespace's own loopback: no clash with a host Janus.
            rtp_port_range="20000-29999",
            media_interface=MEDIA_INTERFACE,
            debug_level=3,  # Warnings only: per-event logging would add to Janus's CPU.
            **loops,
        )
        supervisor = JanusSupervisor(config)
        await supervisor.start()
        client = JanusClient(config.api_url, config.api_secret)
        stages = StageManager.from_config(client, config, secret_key=secrets.token_bytes(32))
        try:
            yield JanusStack(supervisor, stages)
        except Exception:  # A failure, not Ctrl-C or the time limit: show what Janus said.
            log = supervisor.log_path
            if log.exists():
                tail = log.read_text(errors="replace").splitlines()[-15:]
                print("--- janus.log (tail) ---", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            await stages.close()
            await client.aclose()
            await supervisor.stop()


def new_stage_id() -> int:
    """A random stage id (room and mountpoint id)."""
    return secrets.randbelow(2**31) + 1


# Routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How bots get connected: the one seam between the measurements and the signaling.

    ``join_speaker(peer)`` connects a peer that sends (``peer.source``) and hears the stage;
    ``join_listener(peer)`` connects a receive-only peer. Both return a coroutine function that
    leaves again (the caller closes the peer itself). Timing of a join starts before the call,
    so a route must do everything a real client does (offer/answer included).
    """

    name: str
    join_speaker: Callable[[AudioPeer], Awaitable[Leave]]
    join_listener: Callable[[AudioPeer], Awaitable[Leave]]
    # When the listener's join request left, if the route knows (the server route: POST
    # /rooms/{id}/join); otherwise a join is timed from the start of ``join_listener``.
    join_requested_at: Callable[[AudioPeer], float | None] = lambda _peer: None
    # Called once audio flows on a peer's connection: raises BenchError when the connection
    # did not take the path the route is about (the TURN leg: a relay pair).
    check_path: Callable[[AudioPeer], None] = lambda _peer: None


async def _nothing() -> None:
    return None


def _audiobridge_join(
    stages: StageManager, stage_id: int, token: str
) -> Callable[[AudioPeer], Awaitable[Leave]]:
    async def join(peer: AudioPeer) -> Leave:
        seat: Participant = await stages.join(stage_id, token, await peer.create_offer())
        await peer.accept_answer(seat.answer)
        return lambda: stages.leave(seat)

    return join


def audiobridge_route(stages: StageManager, stage_id: int) -> Route:
    """Speakers and listeners are both AudioBridge participants (listeners receive the mix).

    The stage must allow the tokens ``speaker`` and ``listener``.
    """
    return Route(
        "AudioBridge participant",
        _audiobridge_join(stages, stage_id, "speaker"),
        _audiobridge_join(stages, stage_id, "listener"),
    )


def streaming_route(stages: StageManager, stage_id: int) -> Route:
    """Speakers join the AudioBridge room; listeners watch the Streaming mountpoint it feeds."""

    async def join_listener(peer: AudioPeer) -> Leave:
        viewer: Viewer = await stages.watch(stage_id)
        await stages.start_viewer(viewer, await peer.answer_offer(viewer.offer))
        return lambda: stages.leave(viewer)

    return Route(
        "Streaming viewer (via rtp_forward)",
        _audiobridge_join(stages, stage_id, "speaker"),
        join_listener,
    )


def direct_route() -> Route:
    """No server: the listener connects straight to the speaker (one listener per speaker).

    Both peers live in this process; ICE pairs them over the namespace's veth addresses.
    """
    waiting: list[AudioPeer] = []

    async def join_speaker(peer: AudioPeer) -> Leave:
        waiting.append(peer)
        return _nothing

    async def join_listener(peer: AudioPeer) -> Leave:
        if not waiting:
            raise BenchError("direct route: join a speaker first (one listener per speaker)")
        speaker = waiting.pop()
        answer = await peer.answer_offer(await speaker.create_offer())
        await speaker.accept_answer(answer)
        return _nothing

    return Route("direct aiortc -> aiortc", join_speaker, join_listener)


# Through Mi Talk's server --------------------------------------------------------------------

SERVER_PORT = 8000  # On the namespace's loopback: nothing else listens there.
SERVER_JANUS_API_PORT = 8188
SERVER_RTP_PORT_RANGE = "20000-29999"
SERVER_START_TIMEOUT = 60.0


@dataclass
class MitalkServer:
    """A running ``mitalk serve`` (with its managed Janus) inside the namespace."""

    base: str
    data_dir: Path

    @property
    def janus_pid(self) -> int:
        """Pid of the server's Janus (the supervisor writes it next to the generated config)."""
        return int((self.data_dir / "janus" / "janus.pid").read_text().strip())

    async def sign_in(self) -> str:
        """Sign a new member in with the SMS code from the console outbox; their token."""
        phone = f"+49151{secrets.randbelow(10**8):08d}"
        async with httpx.AsyncClient(base_url=self.base, trust_env=False, timeout=20) as http:
            sent = await http.post("/api/v1/auth/code", json={"phone": phone})
            if sent.status_code != 202:
                raise BenchError(f"auth/code answered {sent.status_code}: {sent.text[:200]}")
            code = None
            for line in reversed((self.data_dir / "sms-outbox.jsonl").read_text().splitlines()):
                message = json.loads(line)
                if message["to"] == phone:
                    found = re.search(r"\b(\d{6})\b", message["body"])
                    code = found.group(1) if found else None
                    break
            if code is None:
                raise BenchError("no sign-in code for the bench's phone in the SMS outbox")
            verified = await http.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
            if verified.status_code != 200:
                raise BenchError(f"auth/verify answered {verified.status_code}")
            body = verified.json()
            if body["account"]["status"] != "active":
                raise BenchError(f"signed-in account is {body['account']['status']}, not active")
            # Speaking needs a name on the profile (409 name_required without one).
            named = await http.patch(
                "/api/v1/me/profile",
                json={"name": f"Bench {phone[-4:]}"},
                headers={"Authorization": f"Bearer {body['token']}"},
            )
            if named.status_code != 200:
                raise BenchError(f"me/profile answered {named.status_code}")
        return str(body["token"])

    async def open_room(self, token: str) -> str:
        """Create a live room as ``token``'s account (its moderator); the room's id."""
        async with httpx.AsyncClient(
            base_url=self.base,
            trust_env=False,
            timeout=20,
            headers={"Authorization": f"Bearer {token}"},
        ) as http:
            response = await http.post("/api/v1/rooms", json={"title": "Latency bench"})
        if response.status_code != 201:
            raise BenchError(f"creating a room answered {response.status_code}")
        return str(response.json()["id"])


def _server_env(
    data_dir: Path,
    janus_api_port: int = SERVER_JANUS_API_PORT,
    rtp_port_range: str = SERVER_RTP_PORT_RANGE,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env |= {
        "MITALK_DATA_DIR": str(data_dir),  # SQLite inside, console SMS outbox inside.
        "MITALK_SECRET_KEY": secrets.token_urlsafe(32),
        "MITALK_MEDIA": "managed",
        "MITALK_MEDIA_INTERFACE": MEDIA_INTERFACE,
        "MITALK_JANUS_API_PORT": str(janus_api_port),
        "MITALK_JANUS_RTP_PORT_RANGE": rtp_port_range,
    }
    env |= extra or {}
    return env


async def _stop_process(process: asyncio.subprocess.Process, timeout: float) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def mitalk_server(
    janus_api_port: int = SERVER_JANUS_API_PORT,
    rtp_port_range: str = SERVER_RTP_PORT_RANGE,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[MitalkServer]:
    """``mitalk serve`` (SQLite, managed Janus, open phase) in the namespace, until the end.

    ``janus_api_port`` / ``rtp_port_range`` give its Janus other ports than the defaults (a
    benchmark that wants to be sure of no overlap with anything else); ``extra_env`` adds
    settings (e.g. ``MITALK_WEB_DIR``). A child of the main thread, hence inside the namespace;
    so are its Janus and every bot.
    It gets SIGTERM when the benchmark leaves this block however it leaves (and, through
    ``setpriv --pdeathsig``, when the benchmark dies); on SIGTERM the server stops its Janus,
    which also has the server as its parent-death signal.
    """
    setpriv = shutil.which("setpriv")
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-serve-") as folder:
        data_dir = Path(folder) / "data"
        env = _server_env(data_dir, janus_api_port, rtp_port_range, extra_env)
        opened = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mitalk", "admin", "phase", "open",
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await opened.communicate()
        if opened.returncode != 0:
            raise BenchError(f"mitalk admin phase open failed: {output.decode()[-500:]}")
        log_path = Path(folder) / "serve.log"
        command = [sys.executable, "-m", "mitalk", "serve", "--host", "127.0.0.1"]
        command += ["--port", str(SERVER_PORT)]
        if setpriv:
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        with log_path.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                *command, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches the benchmark, which stops it.
            )  # fmt: skip
        server = MitalkServer(f"http://127.0.0.1:{SERVER_PORT}", data_dir)
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            async with httpx.AsyncClient(base_url=server.base, trust_env=False) as http:
                while True:  # /healthz is 503 until the managed Janus answers.
                    if process.returncode is not None:
                        raise BenchError(f"mitalk serve exited with {process.returncode}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get("/healthz", timeout=2)).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise BenchError(f"mitalk serve not healthy in {SERVER_START_TIMEOUT} s")
                    await asyncio.sleep(0.1)
            yield server
        except Exception:  # A failure, not Ctrl-C or the time limit: show what it said.
            for name, path in (
                ("serve.log", log_path),
                ("janus.log", data_dir / "janus" / "janus.log"),
            ):
                if path.exists():
                    tail = path.read_text(errors="replace").splitlines()[-15:]
                    print(f"--- {name} (tail) ---", *tail, sep="\n", file=sys.stderr)
            raise
        finally:
            await _stop_process(process, 15.0)


def _one_connection_of(
    peer: AudioPeer, use_ice_servers: bool
) -> Callable[[RTCConfiguration], RTCPeerConnection]:
    """RoomBot's connection factory: the peer's own connection, once (no reconnects here).

    ``use_ice_servers``: build it with the server's ICE servers (the TURN legs); otherwise
    keep the peer's own (none: host candidates only, the direct path through the server).
    """
    used = False

    def make(configuration: RTCConfiguration) -> RTCPeerConnection:
        nonlocal used
        if used:
            raise BenchError("the bot was asked to reconnect its audio (Janus restarted?)")
        used = True
        if use_ice_servers:
            peer.use_configuration(configuration)
        return peer.pc

    return make


async def server_route(
    server: MitalkServer, listeners: int = 4, turn: TurnTransport | None = None
) -> Route:
    """Through Mi Talk: every join is a ``RoomBot`` (REST, room WebSocket, /media endpoints).

    ``join_speaker`` opens a new room as the host (its moderator, on stage, unmuted) and
    connects the host's audio with ``POST …/media/offer`` (AudioBridge participant);
    ``join_listener`` joins the newest room as a listener (``POST …/join``, then ``/listen``
    and ``/answer``: a Streaming viewer). Leaving is the bot's own ``close`` (``DELETE
    …/media``, ``POST …/leave``); the host leaving ends the room and the server destroys its
    stage. Accounts are signed in once, up front (``listeners`` of them, taken in turn).

    ``turn``: every bot allows only relay candidates on the server's TURN URL of that
    transport (``mitalk bot … --relay --turn …``), and a connection whose audio did not take a
    relay pair stops the benchmark.
    """
    host = await server.sign_in()
    audience = itertools.cycle([await server.sign_in() for _ in range(listeners)])
    rooms: list[str] = []
    bots: dict[int, RoomBot] = {}

    async def start(bot: RoomBot, peer: AudioPeer) -> Leave:
        bots[id(peer)] = bot
        try:
            await bot.start()
        except BotError as exc:
            await bot.close()
            raise BenchError(f"the server refused the bot: {exc}") from exc
        except BaseException:
            await bot.close()
            raise
        return bot.close

    async def join_speaker(peer: AudioPeer) -> Leave:
        rooms.append(await server.open_room(host))
        source = peer.source
        if source is None:
            raise BenchError("a speaker needs a source")
        bot = RoomBot(
            server.base,
            host,
            rooms[-1],
            source=lambda: source,
            unmute_on_stage=True,
            peer_connection=_one_connection_of(peer, turn is not None),
            relay=turn is not None,
            turn=turn,
        )
        return await start(bot, peer)

    async def join_listener(peer: AudioPeer) -> Leave:
        if not rooms:
            raise BenchError("server route: join a speaker (open a room) first")
        bot = RoomBot(
            server.base,
            next(audience),
            rooms[-1],
            peer_connection=_one_connection_of(peer, turn is not None),
            relay=turn is not None,
            turn=turn,
        )
        return await start(bot, peer)

    def join_requested_at(peer: AudioPeer) -> float | None:
        bot = bots.get(id(peer))
        return bot.join_requested_at if bot is not None else None

    def check_path(peer: AudioPeer) -> None:
        if turn is not None:
            pair = selected_pair(peer.pc)
            if pair is None or pair.local_type != "relay":
                raise BenchError(f"a TURN leg's audio took {pair}, not a relay")

    return Route(
        "Mi Talk server (Streaming listener)" + (f", TURN over {turn.upper()}" if turn else ""),
        join_speaker,
        join_listener,
        join_requested_at,
        check_path,
    )


# Sound onsets ------------------------------------------------------------------------------


class OnsetDetector:
    """Timestamps the start of each burst in decoded frames as they arrive.

    A frame that arrives at ``t`` is taken to be played from ``t`` on, so a burst starting at
    sample ``i`` of it is heard at ``t + i / rate``. After an onset the detector waits for
    ``rearm_frames`` quiet frames before it looks for the next one (bursts are separated by
    hundreds of milliseconds of silence).
    """

    def __init__(
        self,
        rate: int,
        amplitude: int = 4000,
        quiet_amplitude: int = 1000,
        rearm_frames: int = 3,
    ) -> None:
        self.rate = rate
        self.amplitude = amplitude
        self.quiet_amplitude = quiet_amplitude
        self.rearm_frames = rearm_frames
        self.onsets: list[float] = []
        self.peaks: list[int] = []
        self._armed = True
        self._quiet = 0

    def feed(self, arrived: float, samples: Pcm) -> None:
        """``TrackRecorder.on_frame`` callback."""
        if len(samples) == 0:
            return
        peak = int(np.abs(samples.astype(np.int32)).max())
        if self._armed:
            index = first_above(samples, self.amplitude)
            if index is not None:
                self.onsets.append(arrived + index / self.rate)
                self.peaks.append(peak)
                self._armed, self._quiet = False, 0
        elif peak < self.quiet_amplitude:
            self._quiet += 1
            self._armed = self._quiet >= self.rearm_frames
        else:
            self._quiet = 0
            if self.peaks:
                self.peaks[-1] = max(self.peaks[-1], peak)

    def reset(self) -> None:
        """Forget onsets seen so far (e.g. noise during warm-up)."""
        self.onsets.clear()
        self.peaks.clear()


def match_onsets(
    emitted: list[float], heard: list[float], max_latency: float
) -> tuple[list[float], int]:
    """Pair each heard onset with the latest burst emitted before it; return latencies, extras.

    A heard onset later than ``max_latency`` after every burst, or one whose burst was already
    paired (a burst broken up by a gap), counts as an extra and is not a latency sample.
    """
    latencies: list[float] = []
    used: set[int] = set()
    extras = 0
    for onset in heard:
        index = int(np.searchsorted(emitted, onset, side="right")) - 1
        if index < 0 or index in used or onset - emitted[index] > max_latency:
            extras += 1
            continue
        used.add(index)
        latencies.append(onset - emitted[index])
    return latencies, extras


# Small utilities ---------------------------------------------------------------------------

_T0 = time.monotonic()


def progress(message: str) -> None:
    """A progress line on stderr (stdout keeps the table and the JSON line)."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation; nan for no values."""
    return float(np.percentile(values, q)) if values else float("nan")


def median(values: list[float]) -> float:
    """Median, nan for no values."""
    return statistics.median(values) if values else float("nan")


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 10 ms; raise BenchError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.01)


def process_cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (all its threads) in seconds, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5) (utime, stime); field 3 is the first after the name.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


@dataclass
class CpuWindow:
    """CPU use over one interval, in % of one core (machine: % of all cores)."""

    seconds: float
    janus_pct: float
    client_pct: float  # this process, plus the ``client_pids`` given (e.g. the listener swarm)
    machine_pct: float


async def measure_cpu(
    janus_pid: int, seconds: float, client_pids: tuple[int, ...] = ()
) -> CpuWindow:
    """Janus's and the clients' CPU (this process and ``client_pids``), and the machine's."""

    def clients() -> float:
        return process_cpu_seconds() + sum(process_cpu_seconds(pid) for pid in client_pids)

    start = time.monotonic()
    janus0, self0, (busy0, total0) = process_cpu_seconds(janus_pid), clients(), machine_cpu()
    await asyncio.sleep(seconds)
    janus1, self1, (busy1, total1) = process_cpu_seconds(janus_pid), clients(), machine_cpu()
    elapsed = time.monotonic() - start
    return CpuWindow(
        seconds=elapsed,
        janus_pct=100 * (janus1 - janus0) / elapsed,
        client_pct=100 * (self1 - self0) / elapsed,
        machine_pct=100 * (busy1 - busy0) / max(total1 - total0, 1e-9),
    )


# TLS for a TURN leg --------------------------------------------------------------------------


def tls_files(folder: Path, address: str) -> tuple[Path, Path, Path]:
    """A CA made for this run and a certificate for ``address`` it signed: (ca, cert, key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Mi Talk bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "turn.bench")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = (folder / "ca.pem", folder / "turn.pem", folder / "turn.key")
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem) + ca.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths
