"""Edges: what a hop to another media node adds, what an edge costs per listener, failover.

Run as root (it creates a network namespace):
    .venv/bin/python bench/cascade.py [--listeners 500] [--bursts 30]

A small deployment inside the bench's namespace (see _harness.py): one API node
(``MITALK_NODE_ROLE=api``, PostgreSQL ``MITALK_BENCH_POSTGRES_URL`` through its Unix socket,
its own Redis on the namespace's loopback) and three media nodes (``MITALK_NODE_ROLE=media``,
each its own Janus and agent on its own ports, media on ``mt0``). ``MITALK_EDGE_VIEWERS=1``
and ``MITALK_STAGE_FORWARDS=1``: a room's second listener is placed on an edge, a node fed by the
stage's ``rtp_forward`` (SRTP), and its third on the last node, fed by the second node's relay
(two hops). Everything goes through Mi Talk's public API, as clients do.

1. **Hops**: a speaker bot sends tone bursts; listener A is on the stage node (the single-node
   path: AudioBridge -> loopback forward -> local mountpoint), listener B on the edge the stage
   feeds (AudioBridge -> SRTP forward over the network -> the edge's relay -> its mountpoint),
   listener C on the edge fed by B's (... -> B's relay -> the network -> C's mountpoint). All
   hear the same bursts on the same clock: B - A is what the first hop adds
   (``hop_added_ms_p50``), C - B the second (``second_hop_added_ms_p50``), C - A both
   (``two_hop_added_ms_p50``).
2. **Edge CPU**: ``--listeners`` swarm listeners (bench/_swarm.py) join the room through the API;
   placement spreads them over the three nodes. Each Janus's CPU is read before and with them;
   per listener on an edge = (CPU with - CPU before) / its listeners, averaged over the edge
   nodes that got a share of the crowd (``edge_cpu_pct_per_listener``); loss = sequence gaps
   over every swarm listener. ``--one-edge`` puts the whole crowd on one edge node (the other
   two take one listener each and only m1 takes stages): ``largest_edge_listeners``.
3. **Failover**: the edge node carrying listener B (and relaying to C's) is killed (its agent
   and Janus, SIGKILL); B gets ``room.media_reconnect`` and listens again on another node;
   ``edge_failover_s`` is from the kill to the first sound after the break in what B records.
   C's edge is fed again (by the stage) without C doing anything: ``relay_failover_s``. (Swarm
   listeners have no room socket and are not moved; they are closed.)

Ends with one JSON line: ``hop_added_ms_p50``, ``second_hop_added_ms_p50``,
``two_hop_added_ms_p50``, ``single_node_p50_ms``, ``one_hop_p50_ms``, ``two_hop_p50_ms``,
``listeners``, ``edge_cpu_pct_per_listener``, ``loss_pct``, ``edge_failover_s``,
``relay_failover_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
from _harness import (
    BenchError,
    OnsetDetector,
    match_onsets,
    measure_cpu,
    percentile,
    progress,
    run,
    wait_until,
)
from _swarm import Swarm
from redis.asyncio import Redis
from sqlalchemy import text

from mitalk.access.seed import seed_sessions, seed_waitlist
from mitalk.core.database import Database
from mitalk.core.migrate import upgrade
from mitalk.media.audio import DEFAULT_SOUND_THRESHOLD_DBFS, level_dbfs
from mitalk.media.bots import BurstSourceTrack
from mitalk.media.roombot import RoomBot

PG_URL = os.environ.get(
    "MITALK_BENCH_POSTGRES_URL", "postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_bench"
)
ADDRESS = "10.99.0.1"  # mt0 in the bench namespace
API = "http://127.0.0.1:8000"
REDIS_PORT = 16379
MEDIA = ("m1", "m2", "m3")
SECRET = "cascade-bench"
BURST_SECONDS = 0.1
PERIOD = 0.5
JOIN_BATCH = 10


def socket_url(url: str) -> str:
    """PostgreSQL by its Unix socket: the host's TCP loopback is not in this namespace."""
    parts = urllib.parse.urlsplit(url)
    return (f"postgresql+asyncpg://{parts.username or 'mitalk'}@/{parts.path.lstrip('/')}"
            "?host=/var/run/postgresql")  # fmt: skip


class Deployment:
    """The API node, the media nodes and Redis, as child processes in the namespace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
        return (
            env
            | {
                "MITALK_DATA_DIR": str(self.folder / name),
                "MITALK_SECRET_KEY": SECRET,
                "MITALK_REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
                "MITALK_NODE_ID": name,
                "MITALK_NODE_ADDRESS": ADDRESS,
                "MITALK_LOG_LEVEL": "warning",
            }
            | extra
        )

    def start(self, name: str, command: list[str], env: dict[str, str] | None) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_all(self, max_viewers: int, one_edge: bool) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise BenchError("redis-server is not installed")
        self.start("redis", [redis, "--bind", "127.0.0.1", "--port", str(REDIS_PORT), "--save", "",
                             "--appendonly", "no", "--dir", str(self.folder)], None)  # fmt: skip
        for index, name in enumerate(MEDIA):
            low = 20000 + 4000 * index
            # --one-edge: m1 alone takes stages and m2 alone takes more than one listener, so
            # the crowd all lands on one edge (m2: the relay or the node it feeds).
            viewers, seats = max_viewers, 100
            if one_edge:
                viewers, seats = (1, 100) if name == "m1" else (
                    (max_viewers, 0) if name == "m2" else (1, 0))  # fmt: skip
            self.start(name, [sys.executable, "-m", "mitalk", "serve"], self.env(
                name, MITALK_NODE_ROLE="media", MITALK_MEDIA_INTERFACE="mt0",
                MITALK_MEDIA_AGENT_PORT=str(18191 + index),
                MITALK_JANUS_API_PORT=str(18291 + index),
                MITALK_JANUS_RTP_PORT_RANGE=f"{low}-{low + 3999}",
                MITALK_NODE_MAX_VIEWERS=str(viewers),
                MITALK_NODE_MAX_SEATS=str(seats),
            ))  # fmt: skip
        self.start("api", [sys.executable, "-m", "mitalk", "serve", "--host", "127.0.0.1",
                           "--port", "8000"], self.env(
            "api", MITALK_NODE_ROLE="api", MITALK_DATABASE_URL=socket_url(PG_URL),
            MITALK_EDGE_VIEWERS="1", MITALK_STAGE_FORWARDS="1", MITALK_RUN_WORKERS="false",
        ))  # fmt: skip

    async def healthy(self) -> None:
        urls = [f"http://{ADDRESS}:{18191 + i}/healthz" for i in range(len(MEDIA))] + [
            f"{API}/healthz"
        ]
        async with httpx.AsyncClient(trust_env=False) as http:
            for url in urls:
                deadline = time.monotonic() + 90
                while True:
                    for name, process in self.processes.items():
                        if process.poll() is not None:
                            raise BenchError(f"{name} exited:\n{self.tail(name)}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(url, timeout=2)).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise BenchError(f"{url} not healthy in 90 s")
                    await asyncio.sleep(0.2)

    def janus_pid(self, name: str) -> int:
        return int((self.folder / name / "janus" / "janus.pid").read_text().strip())

    def kill(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(10)

    def tail(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else ""
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill(name)


async def seed(count: int) -> list[str]:
    """A fresh schema and ``count`` active members with session tokens."""
    db = Database(socket_url(PG_URL))
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db)
        first, _ = await seed_waitlist(db, count)
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE users SET status = 'active'"))
            await conn.execute(text("DELETE FROM waitlist"))
        return await seed_sessions(db, first, count)
    finally:
        await db.dispose()


def onsets(bot: RoomBot, since: float) -> list[float]:
    """Burst onsets in what a bot recorded after ``since``."""
    detector = OnsetDetector(48000)
    for at, samples in list(bot.timeline.frames):
        if at >= since:
            detector.feed(at, samples)
    return detector.onsets


def resumed_after_gap(bot: RoomBot, since: float, gap: float = 0.3) -> float | None:
    """First sound after a break of ``gap`` s or more that began after ``since``."""
    last, resumed = since, None
    for at, samples in list(bot.timeline.frames):
        if at < since or level_dbfs(samples) <= DEFAULT_SOUND_THRESHOLD_DBFS:
            continue
        if at - last >= gap and resumed is None:
            resumed = at
        last = at
    return resumed


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    progress(f"seeding {args.listeners + 4} accounts")
    tokens = await seed(args.listeners + 4)
    host, near, far, farther, crowd = tokens[0], tokens[1], tokens[2], tokens[3], tokens[4:]
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-cascade-") as folder:
        deployment = Deployment(Path(folder))
        bots: list[RoomBot] = []
        try:
            deployment.start_all(max_viewers=max(500, args.listeners + 10),
                                 one_edge=args.one_edge)  # fmt: skip
            await deployment.healthy()
            redis = Redis(port=REDIS_PORT)
            async with httpx.AsyncClient(base_url=API, trust_env=False, timeout=30) as http:
                created = await http.post("/api/v1/rooms", json={"title": "Cascade"},
                                          headers={"Authorization": f"Bearer {host}"})  # fmt: skip
                created.raise_for_status()
                room = created.json()["id"]
                # Speaking needs a name on the profile (409 name_required without one).
                named = await http.patch("/api/v1/me/profile", json={"name": "Cascade host"},
                                         headers={"Authorization": f"Bearer {host}"})  # fmt: skip
                named.raise_for_status()
            source = BurstSourceTrack(burst_seconds=BURST_SECONDS, period_seconds=PERIOD)
            source.steady = False
            speaker = RoomBot(API, host, room, source=lambda: source, unmute_on_stage=True)
            listener_a = RoomBot(API, near, room)
            listener_b = RoomBot(API, far, room)
            listener_c = RoomBot(API, farther, room)
            bots += [speaker, listener_a, listener_b, listener_c]
            for bot in bots:
                await bot.start()
            await asyncio.sleep(2.0)
            seats = {k.decode(): json.loads(v) for k, v in
                     (await redis.hgetall(f"mitalk:media:seats:{room}")).items()}  # fmt: skip
            feeds = {k.decode()[5:]: v.decode() for k, v in
                     (await redis.hgetall(f"mitalk:media:room:{room}")).items()
                     if k.startswith(b"feed:")}  # fmt: skip
            stage = seats[speaker.user_id]["node"]
            node_a, node_b, node_c = (
                seats[x.user_id]["node"] for x in (listener_a, listener_b, listener_c)
            )
            if node_a != stage or feeds.get(node_b) != "stage" or feeds.get(node_c) != node_b:
                raise BenchError(
                    f"expected A on the stage node, B on an edge it feeds and C on an edge fed by"
                    f" B's: seats {seats}, feeds {feeds}"
                )
            progress(f"stage on {stage}; A on {node_a}, B on edge {node_b}, "
                     f"C on edge {node_c} fed by {node_b}")  # fmt: skip

            # 1. Hop.
            since = time.monotonic()
            source.play_bursts(args.bursts)
            await wait_until(lambda: source.pending == 0, args.bursts * PERIOD + 10, "bursts")
            await asyncio.sleep(PERIOD + 0.5)
            latency = {}
            for label, bot in (("single", listener_a), ("hop", listener_b),
                               ("two", listener_c)):  # fmt: skip
                heard, _ = match_onsets(source.onsets, onsets(bot, since), PERIOD - BURST_SECONDS)
                if len(heard) < args.bursts // 2:
                    raise BenchError(f"listener {label} heard {len(heard)} of {args.bursts} bursts")
                latency[label] = [1000 * x for x in heard]
            single, hop = percentile(latency["single"], 50), percentile(latency["hop"], 50)
            two = percentile(latency["two"], 50)
            progress(f"mouth-to-ear p50: single node {single:.1f} ms, one edge hop {hop:.1f} ms,"
                     f" two hops {two:.1f} ms")  # fmt: skip
            source.steady = True  # a steady tone from now on, for the swarm and the failover

            # 2. Edge CPU with the swarm.
            edges = [n for n in MEDIA if n != stage]
            pids = {n: deployment.janus_pid(n) for n in MEDIA}
            before = {n: await measure_cpu(pids[n], args.interval / 3) for n in edges}
            async with Swarm.started() as swarm:
                async with httpx.AsyncClient(base_url=API, trust_env=False, timeout=60) as http:

                    async def join(index: int) -> None:
                        auth = {"Authorization": f"Bearer {crowd[index]}"}
                        path = f"/api/v1/rooms/{room}"
                        (await http.post(f"{path}/join", headers=auth)).raise_for_status()
                        # As a client does: 503 (media busy or moving) means ask again shortly.
                        for attempt in range(10):
                            offer = await http.post(f"{path}/media/listen", headers=auth)
                            if offer.status_code != 503:
                                break
                            await asyncio.sleep(0.5 * (attempt + 1))
                        offer.raise_for_status()
                        answer = await swarm.add(f"l{index}", offer.json()["offer"]["sdp"])
                        done = await http.post(f"{path}/media/answer", headers=auth,
                                               json={"type": "answer", "sdp": answer})  # fmt: skip
                        done.raise_for_status()

                    progress(f"joining {args.listeners} swarm listeners through the API")
                    for first in range(0, args.listeners, JOIN_BATCH):
                        batch = range(first, min(args.listeners, first + JOIN_BATCH))
                        await asyncio.gather(*(join(i) for i in batch))
                await asyncio.sleep(5)
                stats0 = await swarm.stats()
                with_swarm = {}
                for node in edges:
                    with_swarm[node] = await measure_cpu(pids[node], args.interval / len(edges))
                stats1 = await swarm.stats()
                counted = await redis.hgetall(f"mitalk:media:viewers:{room}")
                viewers = {k.decode(): int(v) for k, v in counted.items()}
                deaf = [k for k, s in stats1.items() if s.sound_packets == 0]
                if deaf:
                    raise BenchError(f"{len(deaf)} swarm listeners received no sound")
                heard = [
                    await swarm.heard(f"l{i}")
                    for i in range(0, args.listeners, max(1, args.listeners // 10))
                ]
                progress(
                    f"decoded sample (sounding, Hz): {[(round(s, 2), round(f)) for s, f in heard]}"
                )
                received = sum(stats1[k].packets - stats0[k].packets for k in stats1)
                lost = sum(stats1[k].lost - stats0[k].lost for k in stats1)
                crowd_on = {
                    n: viewers.get(n, 0) - (1 if n in (node_b, node_c) else 0) for n in edges
                }
                # Per listener on the edges that got a share of the crowd (with --one-edge one).
                per_listener = [
                    (with_swarm[n].janus_pct - before[n].janus_pct) / crowd_on[n]
                    for n in edges
                    if crowd_on[n] >= max(10, args.listeners // 10)
                ]
                if not per_listener:
                    raise BenchError(f"no edge got a share of the crowd: {viewers}")
                cpu_before = [round(before[n].janus_pct, 1) for n in edges]
                cpu_with = [round(with_swarm[n].janus_pct, 1) for n in edges]
                progress(f"listeners per node {viewers}; edge Janus CPU before {cpu_before} %, "
                         f"with {cpu_with} %")  # fmt: skip

                # 3. Failover of B's edge.
                progress(f"killing edge {node_b} (agent and Janus)")
                killed = time.monotonic()
                deployment.kill(node_b)
                for label, bot in (("B", listener_b), ("C", listener_c)):
                    await wait_until(lambda bot=bot: resumed_after_gap(bot, killed) is not None,
                                     20, f"listener {label} to hear again")  # fmt: skip
                failover = (resumed_after_gap(listener_b, killed) or killed) - killed
                relay_failover = (resumed_after_gap(listener_c, killed) or killed) - killed
                progress(f"listener B heard again {failover:.2f} s after the kill, "
                         f"C (its edge fed again) {relay_failover:.2f} s")  # fmt: skip
            await redis.aclose()
        finally:
            for bot in bots:
                with contextlib.suppress(Exception):
                    await bot.close()
            deployment.stop()
    return {
        "hop_added_ms_p50": round(hop - single, 1),
        "second_hop_added_ms_p50": round(two - hop, 1),
        "two_hop_added_ms_p50": round(two - single, 1),
        "single_node_p50_ms": round(single, 1),
        "one_hop_p50_ms": round(hop, 1),
        "two_hop_p50_ms": round(two, 1),
        "listeners": args.listeners,
        "largest_edge_listeners": max(crowd_on.values()),
        "edge_cpu_pct_per_listener": round(sum(per_listener) / len(per_listener), 3),
        "loss_pct": round(100 * lost / max(1, received + lost), 3),
        "edge_failover_s": round(failover, 2),
        "relay_failover_s": round(relay_failover, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=500)
    parser.add_argument("--bursts", type=int, default=30)
    parser.add_argument("--interval", type=float, default=20.0, help="seconds of CPU measurement")
    parser.add_argument(
        "--one-edge", action="store_true", help="every swarm listener on one edge node"
    )
    args = parser.parse_args()
    if not 10 <= args.listeners <= 1000 or not 5 <= args.bursts <= 200:
        parser.error("--listeners 10..1000, --bursts 5..200")
    limit = 300 + args.listeners * 1.5 + args.bursts * PERIOD + 3 * args.interval
    result = run(lambda: bench(args), limit)
    print()
    print(f"mouth-to-ear p50: single node {result['single_node_p50_ms']} ms, one edge hop "
          f"{result['one_hop_p50_ms']} ms (+{result['hop_added_ms_p50']} ms), two hops "
          f"{result['two_hop_p50_ms']} ms (+{result['second_hop_added_ms_p50']} ms for the "
          "second)")  # fmt: skip
    print(
        f"edge Janus CPU per listener with {result['listeners']} listeners: "
        f"{result['edge_cpu_pct_per_listener']} % of a core; loss {result['loss_pct']} %"
    )
    print(f"edge failover: listeners hear again {result['edge_failover_s']} s after the kill; "
          f"those of the edge it fed {result['relay_failover_s']} s")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
