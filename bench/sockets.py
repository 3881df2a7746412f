"""Room sockets at scale: 10,000 WebSockets on one API process, then on two through Redis.

    python bench/sockets.py [--sockets 10000] [--events 20]

What it does, in one run (PostgreSQL ``MITALK_BENCH_POSTGRES_URL`` and Redis
``MITALK_BENCH_REDIS_URL``; both are wiped):

1. Seeds ``--sockets`` + 2 active accounts with session tokens directly in the database and
   opens one live room as account 1 (over HTTP).
2. **One node**: starts ``mitalk serve`` (media off, workers off) and opens ``--sockets`` room
   WebSockets to it from ``--clients`` client processes, each waiting for its snapshot, at most
   ``CONNECT_CONCURRENCY`` handshakes in flight per process. The server's resident memory before
   and after, divided by the sockets, is ``kib_per_socket``.
3. Triggers ``--events`` room events ``--spacing`` seconds apart (default 1; account 2 joins,
   leaves, joins, ... over HTTP: ``room.participant_joined`` / ``left`` go to everyone in the
   room) and records when each socket receives each one (matched by ``seq``). Fan-out
   latency = receive time - time the HTTP request was sent (same machine clock), so it includes
   the request, the commit and the publish.
4. **Two nodes**: a second ``mitalk serve`` on the same database and Redis; every second socket
   closes and opens again on it (the other half stays open on node A); the events are still
   triggered on node A, so the half on node B gets them through Redis.

The clients are deliberately light (a few lines of WebSocket on an asyncio ``Protocol`` under
uvloop, answering pings, no per-message parsing beyond the frame header and a JSON decode of
event frames; they offer permessage-deflate as browsers do, and inflate if the server takes it),
because on 2 cores they share the machine with the server, PostgreSQL and Redis.
File descriptors: the bench raises ``RLIMIT_NOFILE`` for itself and its children.

Targets: p99 <= 250 ms for both. Ends with one JSON line: ``sockets``, ``fanout_p99_ms``,
``two_node_fanout_p99_ms``, ``kib_per_socket``, p50s, the servers' CPU per delivery (as
measured, and less what they spend holding the sockets idle over as long a time), the server's
CPU per socket opened, the sockets the server closed after their snapshot (counted apart: on a
shared machine PostgreSQL can run out of connection slots), and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import text

from mitalk.access.seed import seed_sessions, seed_waitlist
from mitalk.core.database import Database
from mitalk.core.migrate import upgrade

PG_URL = os.environ.get(
    "MITALK_BENCH_POSTGRES_URL", "postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_bench"
)
REDIS_URL = os.environ.get("MITALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PORTS = (18461, 18462)
TARGET_P99_MS = 250.0
CONNECT_CONCURRENCY = 100  # per client process: handshakes in flight at once
EVENT_SPACING = 1.0


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# A light WebSocket client ------------------------------------------------------------------


class RoomSocket(asyncio.Protocol):
    """One room WebSocket: handshake, then frames; records when each event with a seq arrives."""

    def __init__(self, host: str, path: str, token: str, events: list[tuple[float, int]]) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}"
            f"\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n"
            # What browsers offer: a server that accepts compresses every event per socket.
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ).encode()
        self.inflate: Any = None  # a decompressor when the server accepted permessage-deflate
        self.events = events  # shared by the process's sockets: (arrival, seq)
        self.buffer = b""
        self.upgraded = False
        self.snapshot = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.closing = False  # we closed it (a socket moving to the other node)
        self.lost = False  # the server closed it after its snapshot (its log says why)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = not self.closing and self.snapshot.done()
        if not self.snapshot.done():
            self.snapshot.set_exception(ConnectionError(f"closed before the snapshot: {exc}"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.upgraded:
            head, found, rest = self.buffer.partition(b"\r\n\r\n")
            if not found:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.snapshot.set_exception(ConnectionError(head.split(b"\r\n")[0].decode()))
                return
            self.upgraded, self.buffer = True, rest
            if b"permessage-deflate" in head.lower():
                bits = head.lower().partition(b"server_max_window_bits=")[2][:2]
                self.inflate = zlib.decompressobj(-int(bits) if bits.isdigit() else -15)
        while len(self.buffer) >= 2:
            compressed = self.buffer[0] & 0x40
            opcode, length = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F
            start = 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + length:
                return
            payload = self.buffer[start : start + length]
            self.buffer = self.buffer[start + length :]
            if compressed and self.inflate is not None:
                payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
            self.frame(opcode, payload, now)

    def frame(self, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x9:  # ping: answer with a masked pong, or the server drops us
            self.send(0xA, payload)
        elif opcode == 0x1:
            if not self.snapshot.done():
                message = json.loads(payload)
                if message.get("type") == "snapshot":
                    self.snapshot.set_result(None)
                elif message.get("type") == "error":
                    self.snapshot.set_exception(ConnectionError(str(message)))
                return
            # Only the seq is needed: find it without decoding the whole event.
            at = payload.find(b'"seq":')
            if at >= 0:
                end = payload.find(b",", at)
                self.events.append((now, int(payload[at + 6 : end if end > 0 else None])))

    def send(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None and len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


def client_process(
    targets: list[tuple[str, int, str]], room_id: str, commands: Any, replies: Any
) -> None:
    """Hold these sockets (host, port, token) and do what the parent says:

    - ``("report",)``: send the event arrivals recorded since the last report;
    - ``("move", port)``: close every second socket and open it again on ``port`` (the same
      account: half the sockets go to the other node, the rest stay open);
    - ``("stop",)``: close everything and end.
    """
    import uvloop

    async def run() -> None:
        loop = asyncio.get_running_loop()
        events: list[tuple[float, int]] = []
        sockets: list[RoomSocket | None] = [None] * len(targets)
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def connect(index: int, host: str, port: int, token: str) -> None:
            async with limit:
                for attempt in range(5):
                    try:
                        _, protocol = await loop.create_connection(
                            lambda: RoomSocket(
                                f"{host}:{port}", f"/api/v1/rooms/{room_id}/ws", token, events
                            ),
                            host,
                            port,
                        )
                        await asyncio.wait_for(protocol.snapshot, 120)
                        sockets[index] = protocol
                        return
                    except (OSError, ConnectionError, TimeoutError):
                        if attempt == 4:
                            raise
                        await asyncio.sleep(0.5 * (attempt + 1))

        async def connect_all(which: list[int], port: int | None) -> None:
            await asyncio.gather(
                *(
                    connect(i, targets[i][0], port or targets[i][1], targets[i][2])
                    for i in which
                )
            )

        try:
            await connect_all(list(range(len(targets))), None)
            replies.put(("ok", len(targets)))
        except Exception as exc:  # noqa: BLE001 - reported to the parent
            replies.put(("error", repr(exc)))
            return
        while True:
            command = await loop.run_in_executor(None, commands.get)
            if command[0] == "report":
                lost = sum(1 for sock in sockets if sock is not None and sock.lost)
                replies.put(("events", (list(events), lost)))
                events.clear()
            elif command[0] == "move":
                moved = list(range(1, len(targets), 2))
                for i in moved:
                    old = sockets[i]
                    if old is not None:
                        old.close()
                try:
                    await connect_all(moved, command[1])
                    replies.put(("ok", len(moved)))
                except Exception as exc:  # noqa: BLE001 - reported to the parent
                    replies.put(("error", repr(exc)))
                    return
            else:
                break
        for sock in sockets:
            if sock is not None:
                sock.close()

    uvloop.run(run())


# Servers and data --------------------------------------------------------------------------


def start_server(port: int, data: Path) -> subprocess.Popen[bytes]:
    """``mitalk serve`` on PostgreSQL + Redis, no media, no workers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env |= {
        "MITALK_DATA_DIR": str(data),
        "MITALK_DATABASE_URL": PG_URL,
        "MITALK_REDIS_URL": REDIS_URL,
        "MITALK_MEDIA": "off",
        "MITALK_RUN_WORKERS": "false",
        "MITALK_SECRET_KEY": "sockets-bench",
        "MITALK_LOG_LEVEL": "warning",
        # One actor joins and leaves on a beat to measure fan-out, not the per-account limit.
        "MITALK_ROOM_ACTIONS_PER_MINUTE": "100000",
    }
    data.mkdir(parents=True, exist_ok=True)
    log = (data / f"serve-{port}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "mitalk", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_healthy(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server on port {port} did not become healthy in 60 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


IDLE_SECONDS = 3.0


def idle_cpu_rate(servers: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds per second the servers spend holding their sockets with nothing to send."""
    cpu, started = sum(cpu_seconds(x.pid) for x in servers), time.monotonic()
    time.sleep(IDLE_SECONDS)
    return (sum(cpu_seconds(x.pid) for x in servers) - cpu) / (time.monotonic() - started)


def cpu_per_delivery(
    servers: list[subprocess.Popen[bytes]], idle: float, work: Callable[[], list[float]]
) -> tuple[list[float], tuple[float, float]]:
    """Run ``work`` (a fan-out: one latency per delivery); the servers' CPU µs per delivery,
    as measured and less ``idle`` (CPU seconds per second) over the same time."""
    cpu, started = sum(cpu_seconds(x.pid) for x in servers), time.monotonic()
    deliveries = work()
    spent = sum(cpu_seconds(x.pid) for x in servers) - cpu
    net = max(0.0, spent - idle * (time.monotonic() - started))
    return deliveries, (1e6 * spent / len(deliveries), 1e6 * net / len(deliveries))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def prepare(count: int) -> list[str]:
    """A fresh schema with ``count`` active accounts signed in; their tokens (account 1 first)."""
    db = Database(PG_URL)
    async with db.engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    first, _ = await seed_waitlist(db, count)
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET status = 'active'"))
        await conn.execute(text("DELETE FROM waitlist"))
    tokens = await seed_sessions(db, first, count)
    await db.dispose()
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    await redis.aclose()
    return tokens


# The phases --------------------------------------------------------------------------------


class Clients:
    """The client processes and their sockets (see ``client_process``)."""

    def __init__(self, port: int, tokens: list[str], room_id: str, count: int) -> None:
        context = mp.get_context("spawn")
        self.replies = context.Queue()
        self.lost = 0
        targets = [("127.0.0.1", port, token) for token in tokens]
        shares = [targets[i::count] for i in range(count)]
        self.commands = [context.Queue() for _ in shares]
        self.workers = [
            context.Process(target=client_process, args=(share, room_id, queue, self.replies))
            for share, queue in zip(shares, self.commands, strict=True)
        ]

    def _all_ok(self, what: str) -> int:
        total = 0
        for _ in self.workers:
            status, value = self.replies.get(timeout=900)
            if status != "ok":
                raise RuntimeError(f"a client process could not {what}: {value}")
            total += value
        return int(total)

    def open(self) -> tuple[int, float]:
        """Start the processes; each opens its sockets. (sockets, seconds)"""
        started = time.monotonic()
        for worker in self.workers:
            worker.start()
        return self._all_ok("connect"), time.monotonic() - started

    def move_half(self, port: int) -> tuple[int, float]:
        """Every second socket closes and opens again on ``port``. (moved, seconds)"""
        started = time.monotonic()
        for queue in self.commands:
            queue.put(("move", port))
        return self._all_ok("move its sockets"), time.monotonic() - started

    def arrivals(self) -> list[tuple[float, int]]:
        """The arrivals since the last call; ``lost``: the sockets the server has closed."""
        for queue in self.commands:
            queue.put(("report",))
        found: list[tuple[float, int]] = []
        self.lost = 0
        for _ in self.workers:
            kind, value = self.replies.get(timeout=120)
            if kind != "events":
                raise RuntimeError(f"a client process failed: {value}")
            found += value[0]
            self.lost += value[1]
        return found

    def stop(self) -> None:
        for queue in self.commands:
            queue.put(("stop",))
        for worker in self.workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()


def fan_out(
    clients: Clients,
    port: int,
    room_id: str,
    actor: str,
    sockets: int,
    events: int,
    spacing: float,
) -> list[float]:
    """Trigger ``events`` room events on ``port``; each socket's latency for each (ms)."""
    clients.arrivals()  # forget what came before
    sent: list[float] = []
    answered: list[float] = []  # how long the request itself took (ms)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {actor}"},
        trust_env=False,
        timeout=30,
    ) as http:
        for index in range(events):  # an even number: the actor ends where it began, out
            path = "join" if index % 2 == 0 else "leave"
            sent.append(time.time())
            response = http.post(f"/api/v1/rooms/{room_id}/{path}")
            answered.append(1000 * (time.time() - sent[-1]))
            if response.status_code >= 400:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text}")
            time.sleep(spacing)
    time.sleep(max(1.0, spacing))
    # Nothing else happens in the room: the n-th seq seen is the n-th request's event (matched
    # by seq, not by arrival time, so an event slower than the spacing is still its own).
    arrivals = clients.arrivals()
    seqs = sorted({seq for _, seq in arrivals})
    if len(seqs) != len(sent):
        raise RuntimeError(f"{len(seqs)} distinct events arrived for {len(sent)} requests")
    index_of = {seq: i for i, seq in enumerate(seqs)}
    latencies: list[float] = []
    counts = [0] * len(sent)
    for arrival, seq in arrivals:
        index = index_of[seq]
        latencies.append(1000 * (arrival - sent[index]))
        counts[index] += 1
    # A socket the server closed after its snapshot is not one a fan-out missed: on this shared
    # machine PostgreSQL's connection slots ran out now and then (other suites), and a socket
    # whose post-snapshot session check failed was closed (the server's log says so).
    if clients.lost:
        say(f"{clients.lost} sockets were closed by the server after their snapshot (its log "
            f"says why); the events must reach the {sockets - clients.lost} others")  # fmt: skip
    short = [c for c in counts if c < sockets - clients.lost]
    if short:
        raise RuntimeError(f"events did not reach every socket: {counts} of {sockets}")
    say(f"fan-out p50 {np.percentile(latencies, 50):.1f} ms, p99 "
        f"{np.percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms")  # fmt: skip
    say(f"requests answered in {float(np.median(answered)):.1f} ms (median)")
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--spacing", type=float, default=EVENT_SPACING, help="seconds between events (0.2..30)"
    )
    args = parser.parse_args()
    if not 2 <= args.sockets <= 50_000 or not 2 <= args.events <= 200 or args.events % 2:
        parser.error("--sockets 2..50000, --events 2..200 and even (joins and leaves)")
    if not 0.2 <= args.spacing <= 30:
        parser.error("--spacing 0.2..30")
    # Every socket is a descriptor on both ends: lift the limit for us and our children.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = args.sockets + 4096
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        except (ValueError, OSError):
            sys.exit(f"need {wanted} open files (ulimit -n); the hard limit is {hard}: run as root")
    else:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))

    say(f"seeding {args.sockets + 2} accounts")
    tokens = asyncio.run(prepare(args.sockets + 2))
    host, actor, audience = tokens[0], tokens[1], tokens[2:]
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-sockets-") as folder:
        servers: list[subprocess.Popen[bytes]] = []
        try:
            servers.append(start_server(PORTS[0], Path(folder) / "a"))
            wait_healthy(PORTS[0], servers[0])
            created = httpx.post(
                f"http://127.0.0.1:{PORTS[0]}/api/v1/rooms",
                json={"title": "Sockets bench", "visibility": "open"},
                headers={"Authorization": f"Bearer {host}"},
                timeout=30,
            )
            created.raise_for_status()
            room_id = created.json()["id"]
            rss_before = rss_kib(servers[0].pid)
            say(f"one node: {args.sockets} sockets on port {PORTS[0]}")
            clients = Clients(PORTS[0], audience, room_id, args.clients)
            shape = (args.sockets, args.events, args.spacing)
            try:
                cpu = cpu_seconds(servers[0].pid)
                opened, one_connect = clients.open()
                # What one opening costs the server (handshake, snapshot, registry, checks).
                open_ms = 1000 * (cpu_seconds(servers[0].pid) - cpu) / opened
                say(f"{opened} sockets open in {one_connect:.1f} s ({opened / one_connect:.0f} "
                    f"a second, {open_ms:.1f} ms of server CPU each)")  # fmt: skip
                # CPU time of the server per event delivered to one socket: what the fan-out
                # costs whatever else shares the machine (it also counts the join requests),
                # and the same less what the server spends holding the sockets idle
                # (keep-alive pings) over as long a time.
                idle = idle_cpu_rate(servers[:1])
                one, one_us = cpu_per_delivery(
                    servers[:1], idle, lambda: fan_out(clients, PORTS[0], room_id, actor, *shape)
                )
                # Read while they are open: the peak resident memory (VmHWM) with every socket.
                rss_held = max_rss_seen(servers[0].pid, rss_before)
                kib_per_socket = (rss_held - rss_before) / args.sockets
                lost = [clients.lost, 0]  # sockets the server closed, in each phase
                say("two nodes: half the sockets move to node B, events still sent to node A")
                servers.append(start_server(PORTS[1], Path(folder) / "b"))
                wait_healthy(PORTS[1], servers[1])
                moved, two_connect = clients.move_half(PORTS[1])
                say(f"{moved} sockets moved to node B in {two_connect:.1f} s")
                idle = idle_cpu_rate(servers)
                two, two_us = cpu_per_delivery(
                    servers, idle, lambda: fan_out(clients, PORTS[0], room_id, actor, *shape)
                )
                lost[1] = clients.lost
                say(f"server CPU per delivery: one node {one_us[0]:.0f} µs ({one_us[1]:.0f} less "
                    f"idle), two nodes {two_us[0]:.0f} µs ({two_us[1]:.0f} less idle)")  # fmt: skip
            finally:
                clients.stop()
        finally:
            for server in servers:
                server.terminate()
            for server in servers:
                try:
                    server.wait(15)
                except subprocess.TimeoutExpired:
                    server.kill()
    report(
        args, one, two, kib_per_socket, one_connect, two_connect, (one_us, two_us), open_ms, lost
    )


def max_rss_seen(pid: int, floor: int) -> int:
    """The server's peak resident memory (VmHWM): reached while every socket was open."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return max(int(line.split()[1]), floor)
    return floor


def report(
    args: argparse.Namespace,
    one: list[float],
    two: list[float],
    kib_per_socket: float,
    one_connect: float,
    two_connect: float,
    cpu_us: tuple[tuple[float, float], tuple[float, float]],
    open_ms: float,
    lost: list[int],
) -> None:
    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 1)

    print()
    print(f"Room event fan-out to {args.sockets} sockets ({args.events} events, ms from request)")
    print(f"{'':>22} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'connect s':>10}")
    for label, values, seconds in (("one API process", one, one_connect),
                                   ("two nodes via Redis", two, two_connect)):  # fmt: skip
        print(
            f"{label:>22} {pct(values, 50):8.1f} {pct(values, 90):8.1f} {pct(values, 99):8.1f} "
            f"{max(values):8.1f} {seconds:10.1f}"
        )
    print(f"server memory per socket: {kib_per_socket:.1f} KiB (peak RSS growth / sockets)")
    for label, values in (("one node", one), ("two nodes", two)):
        met = pct(values, 99) <= TARGET_P99_MS
        print(f"target p99 <= {TARGET_P99_MS:.0f} ms, {label}: {'met' if met else 'NOT met'}")
    print(
        json.dumps(
            {
                "sockets": args.sockets,
                "fanout_p50_ms": pct(one, 50),
                "fanout_p99_ms": pct(one, 99),
                "two_node_fanout_p50_ms": pct(two, 50),
                "two_node_fanout_p99_ms": pct(two, 99),
                "kib_per_socket": round(kib_per_socket, 1),
                "server_cpu_us_per_delivery": round(cpu_us[0][0], 1),
                "two_node_server_cpu_us_per_delivery": round(cpu_us[1][0], 1),
                "server_cpu_us_per_delivery_less_idle": round(cpu_us[0][1], 1),
                "two_node_server_cpu_us_per_delivery_less_idle": round(cpu_us[1][1], 1),
                "open_per_s": round(args.sockets / one_connect, 1),
                "server_cpu_ms_per_open": round(open_ms, 2),
                "sockets_closed_by_server": lost,
                "load_average": [round(x, 1) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
