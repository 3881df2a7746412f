"""The launch rush: a 1.3 million waitlist, a 50,000 drop, claim windows over HTTP and sockets.

What it does, in one run on this machine (each figure printed, then one JSON line):

1. Builds the waitlist directly in the database (bulk COPY / executemany), then runs a 50,000
   drop with the job `mitalk admin passes drop` uses, timed until every pass is granted
   (`drop_seconds`) and until everyone is told too (`drop_told_seconds`).
2. Gives waitlisters session tokens, starts the server stack in separate processes (uvicorn or
   granian with the Mi Talk app and one bare endpoint, `_rush_app.py`) and loads it over real
   HTTP with `wrk` (C, another process): the bare endpoint (`baseline_rps`, a FastAPI route),
   a plain route put first as the claim route is (`plain_rps`: HTTP and the middleware only),
   then `POST /api/v1/passes/claim` while a window of `--passes` opens (`claim_rps`, `ratio`
   against the bare endpoint, `plain_ratio` against the plain route).
   The load is stopped, the server left to go quiet, and only then are grants counted.
3. Socket claims: `--sockets` account sockets held by `_claim_sockets.py` processes; a second
   window is announced a few seconds ahead, the server pushes its opening to every socket and
   each answers with `pass.claim` (`socket_claim_rps`, `socket_ratio` = socket / HTTP claims).
4. A process sweep (`--sweep 1,2,4`, with Redis): HTTP claims/s with 1, 2, 4 API processes
   sharing Redis, and the efficiency rps(k) / (k * rps(1)).
5. Checks every window in the database (granted, over-granted, one per person, lost).

Targets (issue 14): ratio >= 0.7, socket_ratio >= 2, sweep efficiency >= 0.8 where cores allow,
drop <= 2 s on PostgreSQL, over_granted = 0.

    python bench/rush.py                                   # SQLite, embedded default, 1 process
    python bench/rush.py --db postgres --redis             # PostgreSQL + Redis, 2 workers, sweep
    python bench/rush.py --db postgres --redis --server granian
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import text

from mitalk.access import service as access
from mitalk.access.drops import run_drop
from mitalk.access.seed import seed_sessions, seed_waitlist
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.migrate import upgrade
from mitalk.core.settings import Settings

HERE = Path(__file__).resolve().parent
PG_URL = os.environ.get(
    "MITALK_BENCH_POSTGRES_URL", "postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_bench"
)
REDIS_URL = os.environ.get("MITALK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


PY_SPY = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def reset_database(url: str) -> Database:
    db = Database(url)
    if not db.is_sqlite:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    return db


async def give_tokens(db: Database, first: int, count: int, path: Path) -> None:
    """Session tokens for waitlisters at places first..first+count-1, written one per line."""
    path.write_text("\n".join(await seed_sessions(db, first, count)) + "\n")


def start_server(
    url: str, redis: str | None, workers: int, port: int, data: Path, kind: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env.update(
        MITALK_DATA_DIR=str(data),
        MITALK_DATABASE_URL=url,
        MITALK_MEDIA="off",
        MITALK_RUN_WORKERS="false",
        MITALK_SECRET_KEY="rush",
        MITALK_LOG_LEVEL="warning",
        # Every request comes from wrk on loopback: one address, so lift the per-address limit
        # (it is still counted on every claim, so its cost stays in the figures).
        MITALK_CLAIMS_PER_ADDRESS="100000000",
        PYTHONPATH=str(HERE),
    )
    if redis:
        env["MITALK_REDIS_URL"] = redis
    log = (data / f"server-{port}.log").open("wb")
    if kind == "granian":
        command = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--no-access-log", "--log-level", "warning", "_rush_app:create",
        ]
    else:
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "_rush_app:create",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning",
            # uvicorn kills a worker that misses one 5 s health check; holding ~10,000 sockets
            # each on a loaded 2-core machine, a worker stalled that long (py-spy: the main
            # thread 4 s at one allocation, as in a full garbage collection) and lost them all.
            "--timeout-worker-healthcheck", "60",
        ]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def wait_healthy(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited; see server.log")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become healthy in 60 s")


def wrk(
    base: str, path: str, tokens: Path, seconds: int, connections: int, threads: int = 2
) -> dict[str, float]:
    """Run wrk against ``path``; returns its RESULT line as a dict."""
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(HERE / "_rush.lua"), base, "--", str(tokens), path, str(threads)],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    match = re.search(r"^RESULT (.+)$", out, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result: dict[str, float] = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants, in seconds."""
    total = 0.0
    pending = [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


async def redis_cpu_seconds(url: str | None) -> float:
    """CPU time (user + system, main thread and children) the Redis server has used so far.

    Redis answers for the whole server, so other clients of the same Redis count too: run the
    sweep where nothing else uses it.
    """
    if url is None:
        return 0.0
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        info = await client.info("cpu")
    finally:
        await client.aclose()
    return float(sum(info.get(key, 0.0) for key in (
        "used_cpu_sys", "used_cpu_user", "used_cpu_sys_children", "used_cpu_user_children"
    )))


async def wait_quiet(
    db: Database, window_id: str, server_pid: int, redis_url: str | None, timeout: float = 60
) -> float:
    """After the load stopped: wait until the server has finished what was sent and every grant
    is in the database, so that counting afterwards counts everything (returns seconds waited).

    Quiet means: the server's processes used under 5 % of a core over the last 0.5 s, the Redis
    grant stream (with --redis) has nothing unread or unacknowledged, and the database's count of
    grants did not move over that half second.
    """
    started = time.monotonic()
    last_cpu = cpu_seconds(server_pid)
    last_count = -1
    while time.monotonic() - started < timeout:
        await asyncio.sleep(0.5)
        cpu = cpu_seconds(server_pid)
        count_now = await count(
            db, "SELECT COUNT(*) FROM pass_grants WHERE window_id = :w", w=window_id
        )
        stream_empty = True
        if redis_url:
            from redis.asyncio import Redis

            from mitalk.access.claims import GRANT_GROUP, GRANT_STREAM

            r = Redis.from_url(redis_url)
            try:
                groups = await r.xinfo_groups(GRANT_STREAM)
                pending = await r.xpending(GRANT_STREAM, GRANT_GROUP)
            finally:
                await r.aclose()
            lag = next((g.get("lag") or 0 for g in groups if g["name"] == GRANT_GROUP.encode()), 0)
            stream_empty = int(lag) == 0 and int(pending["pending"]) == 0
        if cpu - last_cpu < 0.025 and count_now == last_count and stream_empty:
            return time.monotonic() - started
        last_cpu, last_count = cpu, count_now
    raise RuntimeError(f"the server did not go quiet within {timeout:.0f} s")


async def grants_over_time(db: Database, window_id: str) -> list[dt.datetime]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT granted_at FROM pass_grants WHERE window_id = :w ORDER BY granted_at"),
            {"w": window_id},
        )
        moments = [
            r[0] if isinstance(r[0], dt.datetime) else dt.datetime.fromisoformat(r[0]) for r in rows
        ]
        return [m.replace(tzinfo=dt.UTC) for m in moments]  # stored as naive UTC


async def count(db: Database, sql: str, **params: object) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar() or 0)


def plot(path: Path, start: dt.datetime, times: list[dt.datetime], baseline: dict[str, float],
         claims: dict[str, float], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    seconds = [(t - start).total_seconds() for t in times]
    left.plot(seconds, range(1, len(seconds) + 1))
    left.set_xlabel("seconds since the window opened")
    left.set_ylabel("passes granted")
    left.set_title("Grants over time")
    labels = ["p50", "p90", "p99"]
    width = 0.38
    xs = range(len(labels))
    left_bars = [baseline[f"{p}_us"] / 1000 for p in labels]
    right_bars = [claims[f"{p}_us"] / 1000 for p in labels]
    right.bar([x - width / 2 for x in xs], left_bars, width, label="bare endpoint")
    right.bar([x + width / 2 for x in xs], right_bars, width, label="claim")
    right.set_xticks(list(xs), labels)
    right.set_ylabel("ms")
    right.set_title("Latency percentiles under load")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def check_window(
    db: Database, window_id: str, total: int, redis_url: str | None
) -> dict[str, int]:
    """What the database (and Redis) hold for one window, counted after the server went quiet."""
    where = "FROM pass_grants WHERE window_id = :w"
    granted = await count(db, f"SELECT COUNT(*) {where}", w=window_id)
    people = await count(db, f"SELECT COUNT(DISTINCT user_id) {where}", w=window_id)
    counted = await count(db, "SELECT granted FROM pass_windows WHERE id = :w", w=window_id)
    over = max(0, granted - total) + (granted - people) + max(0, counted - total)
    lost = 0
    if redis_url:
        from redis.asyncio import Redis

        r = Redis.from_url(redis_url)
        try:
            taken = int(await r.scard(f"mitalk:win:{window_id}:claimed"))
        finally:
            await r.aclose()
        lost = max(0, taken - granted)  # told "granted" by Redis, missing in the database
    return {"granted": granted, "people": people, "counted": counted, "over": over, "lost": lost}


async def open_window(
    db: Database, total: int, opens_in: float = 0.0
) -> tuple[str, dt.datetime]:
    async with unit_of_work(db) as session:
        await access.close_window(session, utcnow())
        now = utcnow()
        window = await access.open_window(
            session, total, now, opens_at=now + dt.timedelta(seconds=opens_in)
        )
        return window.id, window.opens_at


async def announce(
    db: Database, total: int, redis_url: str | None
) -> tuple[str, dt.datetime]:
    """Announce a window 2 s ahead, as a launch does, and return once it is open (and, with
    Redis, once the desk's copy of the claimants' sessions is whole, within 60 s)."""
    window_id, opens_at = await open_window(db, total, opens_in=2.0)
    deadline = time.monotonic() + 60
    if redis_url:
        from redis.asyncio import Redis

        r = Redis.from_url(redis_url)
        try:
            while not await r.exists(f"mitalk:win:{window_id}:tokens"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the claim desk did not copy the window's sessions")
                await asyncio.sleep(0.2)
        finally:
            await r.aclose()
    await asyncio.sleep(max(0.0, (opens_at - utcnow()).total_seconds()) + 0.6)
    return window_id, opens_at


def spawn_claimants(
    port: int, tokens: Path, count_: int, processes: int
) -> list[subprocess.Popen[str]]:
    share = -(-count_ // processes)
    return [
        subprocess.Popen(
            [sys.executable, str(HERE / "_claim_sockets.py"), "127.0.0.1", str(port), str(tokens),
             str(first), str(min(share, count_ - first)),
             # Time for 20 hellos a second per process (a busy machine), and never under 2 min.
             "--timeout", str(max(120, share // 20))],
            stdout=subprocess.PIPE, text=True,
        )
        for first in range(0, count_, share)
    ]


async def socket_claims(
    port: int,
    tokens: Path,
    count_: int,
    processes: int,
    db: Database,
    passes: int,
    server_pid: int,
    profile: Callable[[], list[subprocess.Popen[bytes]]] | None = None,
) -> tuple[dict[str, object], str]:
    """Hold ``count_`` account sockets over ``processes`` claimant processes, announce a window
    a few seconds ahead, and gather what every socket heard once the server pushed its opening.
    Also the open rate and the server's CPU per socket opened (its hello), which survive load
    better than wall-clock figures; ``claim_cpu_from`` is where the claims' CPU count starts."""
    cpu_before = cpu_seconds(server_pid)
    children = spawn_claimants(port, tokens, count_, processes)
    try:
        started = time.monotonic()
        for child in children:
            assert child.stdout is not None
            line = await asyncio.to_thread(child.stdout.readline)
            if not line.startswith("READY"):
                raise RuntimeError(f"a claimant process did not get ready: {line!r}")
        open_seconds = time.monotonic() - started
        claim_cpu_from = cpu_seconds(server_pid)
        open_cpu_us = (claim_cpu_from - cpu_before) / count_ * 1e6
        say(f"  {count_:,} sockets open in {open_seconds:.1f} s ({count_ / open_seconds:,.0f}/s, "
            f"server CPU {open_cpu_us:,.0f} µs per socket opened)")
        # Announced ahead, as a launch is: every node's poll (2 s) sees it before it opens.
        window_id, _ = await open_window(db, passes, opens_in=4.0)
        if profile is not None:
            profile()
        reports = []
        for child in children:
            assert child.stdout is not None
            reports.append(json.loads(await asyncio.to_thread(child.stdout.readline)))
            await asyncio.to_thread(child.wait, 30)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    results: dict[str, int] = {}
    failures: dict[str, int] = {}
    for report in reports:
        for kind, n in report["results"].items():
            results[kind] = results.get(kind, 0) + n
        for kind, n in report["failures"].items():
            failures[kind] = failures.get(kind, 0) + n
    answered = sum(r["answered"] for r in reports)
    span = max(r["last_answer"] for r in reports) - min(r["first_sent"] for r in reports)
    push_spread = max(r["last_push"] for r in reports) - min(r["first_push"] for r in reports)
    return {
        "answered": answered,
        "unanswered": sum(r["unanswered"] for r in reports),
        "failures": failures,
        "results": results,
        "rps": answered / span if span > 0 else 0.0,
        "seconds": span,
        "push_spread_ms": push_spread * 1000,
        "p50_ms": max(r["p50_ms"] for r in reports),
        "p99_ms": max(r["p99_ms"] for r in reports),
        "open_per_second": count_ / open_seconds,
        "open_cpu_us": open_cpu_us,
        "claim_cpu_from": claim_cpu_from,
    }, window_id


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The processes that serve requests: the server's children (workers), else the server."""
    children: list[int] = []
    for task in Path(f"/proc/{server.pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    # uvicorn's multiprocess supervisor also starts a resource tracker; keep the busy ones later.
    return children or [server.pid]


def start_profiles(
    server: subprocess.Popen[bytes], seconds: int, folder: Path, name: str
) -> list[subprocess.Popen[bytes]]:
    """py-spy (a sampling profiler) on every server process for ``seconds``: collapsed stacks."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [PY_SPY, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
             "--format", "raw", "--nonblocking", "--output", str(folder / f"{name}-{pid}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for pid in worker_pids(server)
    ]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="claims through the Redis desk")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default 1; 2 with --redis)"
    )
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn")
    parser.add_argument("--waitlist", type=int, default=1_300_000)
    parser.add_argument("--drop", type=int, default=50_000)
    parser.add_argument(
        "--drop-only", action="store_true",
        help="build the waitlist, time the drop, print its JSON and stop (no server, no wrk)",
    )
    parser.add_argument("--passes", type=int, default=50_000)
    parser.add_argument("--claimants", type=int, default=65_000)
    parser.add_argument(
        "--sockets", type=int, default=None,
        help="socket claimants (default 20,000; 15,000 with one server process, whose "
        "descriptors are limited here; 0: skip)",
    )
    parser.add_argument("--socket-processes", type=int, default=2)
    parser.add_argument(
        "--sweep", default=None,
        help="API processes to sweep, e.g. 1,2,4 (default with --redis: 1,2,4; without: none)",
    )
    parser.add_argument("--sweep-claimants", type=int, default=40_000)
    parser.add_argument("--sweep-seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument(
        "--seconds", type=int, default=20, help="duration of each load run (at most 120)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (server logs)")
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="folder for py-spy profiles (collapsed stacks) of the server during the runs",
    )
    args = parser.parse_args()
    if args.claimants <= args.passes:
        parser.error("--claimants must exceed --passes (more people than passes)")
    if not shutil.which("wrk") and not args.drop_only:
        sys.exit("wrk is missing: apt-get install wrk")
    seconds = min(args.seconds, 120)
    workers = args.workers or (2 if args.redis else 1)
    if workers > 1 and not args.redis:
        parser.error("several workers need --redis (the claim desk must be shared)")
    sockets = args.sockets if args.sockets is not None else (20_000 if workers > 1 else 15_000)
    if args.sweep is None:
        args.sweep = "1,2,4" if args.redis else ""
    sweep = [int(k) for k in args.sweep.split(",") if k]
    if sweep and not args.redis:
        parser.error("the process sweep needs --redis")
    people_needed = args.claimants + sockets + len(sweep) * args.sweep_claimants
    if args.waitlist < args.drop + (0 if args.drop_only else people_needed):
        parser.error(f"--waitlist must hold the drop and {people_needed:,} claimants")

    work = Path(tempfile.mkdtemp(prefix="mitalk-rush-"))
    url = f"sqlite+aiosqlite:///{work / 'rush.db'}" if args.db == "sqlite" else PG_URL
    redis_url = REDIS_URL if args.redis else None
    if redis_url:
        from redis.asyncio import Redis

        r = Redis.from_url(redis_url)
        await r.flushdb()
        await r.aclose()
    db = await reset_database(url)
    settings = Settings(data_dir=work, database_url=url)
    server: subprocess.Popen[bytes] | None = None
    loads: dict[str, str] = {}
    windows: list[dict[str, int]] = []
    try:
        say(f"building a waitlist of {args.waitlist:,} in {args.db} …")
        started = time.perf_counter()
        await seed_waitlist(db, args.waitlist)
        say(f"  {time.perf_counter() - started:.1f} s")

        say(f"dropping {args.drop:,} passes … (load {load_average()})")
        loads["drop"] = load_average()
        started = time.perf_counter()
        granted_at: list[float] = []
        dropped = await run_drop(
            db, settings, args.drop, "rush-drop",
            on_granted=lambda _: granted_at.append(time.perf_counter()),
        )
        # drop_seconds: until every pass is granted (committed); told: until every notice and
        # text message of the drop is written too (the job's whole run).
        drop_seconds = granted_at[0] - started
        drop_told_seconds = time.perf_counter() - started
        say(f"  admitted {dropped.admitted:,} in {drop_seconds:.2f} s, "
            f"all told in {drop_told_seconds:.2f} s")
        if args.drop_only:
            print(f"drop: admitted {dropped.admitted:,} of a line of {args.waitlist:,} "
                  f"in {drop_seconds:.2f} s, all told in {drop_told_seconds:.2f} s")
            print(json.dumps({
                "db": args.db, "waitlist": args.waitlist, "drop": args.drop,
                "admitted": dropped.admitted, "drop_seconds": round(drop_seconds, 2),
                "drop_told_seconds": round(drop_told_seconds, 2), "load": loads,
            }))
            return

        first = args.drop + 1
        http_tokens, socket_tokens = work / "tokens.txt", work / "socket-tokens.txt"
        await give_tokens(db, first, args.claimants, http_tokens)
        first += args.claimants
        if sockets:
            await give_tokens(db, first, sockets, socket_tokens)
            first += sockets
        sweep_tokens = []
        for k in sweep:
            path = work / f"sweep-{k}.txt"
            await give_tokens(db, first, args.sweep_claimants, path)
            first += args.sweep_claimants
            sweep_tokens.append(path)

        port = 18000 + os.getpid() % 1000
        base = f"http://127.0.0.1:{port}"
        server = start_server(url, redis_url, workers, port, work, args.server)
        wait_healthy(base, server)

        loads["bare"] = load_average()
        say(f"baseline: bare endpoint, {args.connections} connections, {seconds} s "
            f"(load {loads['bare']}) …")
        profiles = start_profiles(server, seconds, args.profile, "bare") if args.profile else []
        cpu_before = cpu_seconds(server.pid)
        baseline = wrk(base, "/bench/bare", http_tokens, seconds, args.connections)
        baseline_cpu_us = (cpu_seconds(server.pid) - cpu_before) / baseline["requests"] * 1e6
        for profile in profiles:
            profile.wait(30)
        say(f"  {baseline['rps']:,.0f} requests/s, p99 {baseline['p99_us'] / 1000:.1f} ms")
        # The same answer from a plain route put first, as the claim route is: what HTTP and
        # the middleware cost without FastAPI's route walk and request handling.
        loads["plain"] = load_average()
        say(f"baseline: plain route, {args.connections} connections, {seconds} s "
            f"(load {loads['plain']}) …")
        cpu_before = cpu_seconds(server.pid)
        plain = wrk(base, "/bench/plain", http_tokens, seconds, args.connections)
        plain_cpu_us = (cpu_seconds(server.pid) - cpu_before) / plain["requests"] * 1e6
        say(f"  {plain['rps']:,.0f} requests/s, p99 {plain['p99_us'] / 1000:.1f} ms")

        window_id, opens_at = await announce(db, args.passes, redis_url)
        loads["claim"] = load_average()
        say(f"claims over HTTP: window of {args.passes:,} passes, {args.claimants:,} claimants, "
            f"{seconds} s (load {loads['claim']}) …")
        profiles = start_profiles(server, seconds, args.profile, "claim") if args.profile else []
        http_cpu_from = cpu_seconds(server.pid)
        claims = wrk(base, "/api/v1/passes/claim", http_tokens, seconds, args.connections)
        for profile in profiles:
            profile.wait(30)
        say(f"  {claims['rps']:,.0f} requests/s, p99 {claims['p99_us'] / 1000:.1f} ms")
        # wrk has stopped, but the server may still be answering what it already sent, and the
        # Redis desk's stream reaches the database a moment later: count only once all is quiet.
        quiet = await wait_quiet(db, window_id, server.pid, redis_url)
        say(f"  server quiet {quiet:.1f} s after the load stopped")
        # The server's CPU per answered claim, its grant writes included (until quiet).
        http_cpu_us = (cpu_seconds(server.pid) - http_cpu_from) / max(1, claims["requests"]) * 1e6
        http_window = await check_window(db, window_id, args.passes, redis_url)
        windows.append(http_window)
        times = await grants_over_time(db, window_id)
        claim_seconds = (times[-1] - opens_at).total_seconds() if times else float("nan")

        socket: dict[str, object] = {}
        async with unit_of_work(db) as session:  # sockets must hear of no other window
            await access.close_window(session, utcnow())
        if sockets:
            loads["socket"] = load_average()
            say(f"claims over sockets: {sockets:,} account sockets in "
                f"{args.socket_processes} processes (load {loads['socket']}) …")
            socket, socket_window = await socket_claims(
                port, socket_tokens, sockets, args.socket_processes, db, args.passes, server.pid,
                (lambda: start_profiles(server, 20, args.profile, "socket"))  # type: ignore[arg-type]
                if args.profile else None,
            )
            await wait_quiet(db, socket_window, server.pid, redis_url)
            # From the last socket's hello until quiet: the window's push, the claims, their
            # grants written, and the places and accounts the sockets are told afterwards.
            socket["cpu_us"] = (
                (cpu_seconds(server.pid) - float(socket["claim_cpu_from"]))  # type: ignore[arg-type]
                / max(1, int(socket["answered"])) * 1e6  # type: ignore[call-overload]
            )
            socket["window"] = await check_window(db, socket_window, args.passes, redis_url)
            windows.append(socket["window"])  # type: ignore[arg-type]
            say(f"  {socket['rps']:,.0f} claims/s, p99 {socket['p99_ms']:.1f} ms, "
                f"{socket['results']}")
        stop_server(server)
        server = None

        swept: dict[int, float] = {}
        swept_cpu: dict[int, float] = {}  # API processes' CPU µs per answered claim
        redis_cpu: dict[int, float] = {}  # the Redis server's CPU µs per answered claim
        for k, path in zip(sweep, sweep_tokens, strict=True):
            server = start_server(url, redis_url, k, port, work, args.server)
            wait_healthy(base, server)
            window_id, _ = await announce(db, args.sweep_claimants, redis_url)
            loads[f"sweep-{k}"] = load_average()
            say(f"sweep: {k} API process(es), {args.sweep_seconds} s "
                f"(load {loads[f'sweep-{k}']}) …")
            api_cpu, store_cpu = cpu_seconds(server.pid), await redis_cpu_seconds(redis_url)
            result = wrk(base, "/api/v1/passes/claim", path, args.sweep_seconds, args.connections)
            swept[k] = result["rps"]
            await wait_quiet(db, window_id, server.pid, redis_url)
            # CPU per answered claim, from the load's start until the server went quiet (the
            # grant stream's consumer included): what a claim costs whatever else ran.
            answered = max(1.0, result["requests"])
            swept_cpu[k] = (cpu_seconds(server.pid) - api_cpu) / answered * 1e6
            redis_cpu[k] = (await redis_cpu_seconds(redis_url) - store_cpu) / answered * 1e6
            windows.append(await check_window(db, window_id, args.sweep_claimants, redis_url))
            stop_server(server)
            server = None
            say(f"  {result['rps']:,.0f} claims/s")
        efficiency = {k: swept[k] / (k * swept[sweep[0]] / sweep[0]) for k in swept}
        cores = os.cpu_count() or 1
        # Where cores allow: the most processes this machine has cores for (wrk shares them).
        allowed = [k for k in sweep if k <= cores]
        sweep_efficiency = efficiency[max(allowed)] if allowed and len(swept) > 1 else None
        # Whether processes get in each other's way, apart from cores: CPU per claim with one
        # process over CPU per claim with k (1.0: nothing shared costs more as processes are
        # added; the wall-clock efficiency above also pays for wrk and the processes sharing
        # the cores). The shared part that does not add up is Redis: one core of it serves
        # 1e6 / (its µs per claim) claims/s, whatever the number of API processes.
        cpu_efficiency = {k: swept_cpu[sweep[0]] / swept_cpu[k] for k in swept_cpu}
        sweep_cpu_efficiency = cpu_efficiency[max(sweep)] if len(swept) > 1 else None
        redis_ceiling = (
            1e6 / (sum(redis_cpu.values()) / len(redis_cpu)) if redis_cpu else None
        )

        args.out.mkdir(parents=True, exist_ok=True)
        label = f"{args.db}{'+redis' if redis_url else ''}-{workers}w-{args.server}"
        png = args.out / f"rush-{label}.png"
        plot(png, opens_at, times, baseline, claims,
             f"{args.passes:,} passes, {args.claimants:,} claimants ({label})")
        say(f"plot: {png}")
        over = sum(w["over"] for w in windows)
        lost = sum(w["lost"] for w in windows)
        print(f"{label}: {os.cpu_count()} cores, load average before each part: {loads}")
        print(f"{'':<28}{'bare':>12}{'HTTP claim':>12}{'socket claim':>14}")
        print(
            f"{'requests/s':<28}{baseline['rps']:>12,.0f}{claims['rps']:>12,.0f}"
            f"{float(socket.get('rps', 0)):>14,.0f}"  # type: ignore[arg-type]
        )
        for p in ("p50", "p90", "p99"):
            print(
                f"{p + ' ms':<28}{baseline[p + '_us'] / 1000:>12.1f}"
                f"{claims[p + '_us'] / 1000:>12.1f}"
                f"{float(socket.get(p + '_ms', 0)):>14.1f}"  # type: ignore[arg-type]
            )
        print(f"{'server CPU µs per request':<28}{baseline_cpu_us:>12.0f}{http_cpu_us:>12.0f}")
        print(f"plain route (first, no FastAPI): {plain['rps']:,.0f} requests/s, "
              f"p99 {plain['p99_us'] / 1000:.1f} ms, server CPU {plain_cpu_us:.0f} µs per request; "
              f"HTTP claims / plain route: {claims['rps'] / plain['rps']:.2f}")
        print(f"ratio HTTP claims / bare: {claims['rps'] / baseline['rps']:.2f}; "
              f"socket / HTTP claims: {float(socket.get('rps', 0)) / claims['rps']:.2f}")  # type: ignore[arg-type]
        if socket:
            print(f"socket window: {socket['results']}, opening pushed to all within "
                  f"{socket['push_spread_ms']:.0f} ms, unanswered {socket['unanswered']}, "
                  f"failed {socket['failures'] or 0}")
            print(f"sockets opened at {socket['open_per_second']:,.0f}/s, server CPU "
                  f"{socket['open_cpu_us']:,.0f} µs per socket opened; server CPU per claim: "
                  f"HTTP {http_cpu_us:,.0f} µs, socket {socket['cpu_us']:,.0f} µs")
        if swept:
            print("sweep: " + ", ".join(
                f"{k} process(es) {swept[k]:,.0f} claims/s (efficiency {efficiency[k]:.2f})"
                for k in swept
            ))
            print("sweep CPU per claim: " + ", ".join(
                f"{k} process(es) {swept_cpu[k]:.0f} µs API + {redis_cpu[k]:.0f} µs Redis "
                f"(CPU efficiency {cpu_efficiency[k]:.2f})"
                for k in swept
            ) + (f"; one Redis core serves ~{redis_ceiling:,.0f} claims/s" if redis_ceiling
                 else ""))
        print(
            f"HTTP window: granted {http_window['granted']:,} of {args.passes:,} to "
            f"{http_window['people']:,} people in {claim_seconds:.2f} s; "
            f"every window: over-granted {over}, lost {lost}; drop {drop_seconds:.2f} s"
        )
        print(json.dumps({
            "server": args.server,
            "desk": label,
            "drop_seconds": round(drop_seconds, 2),
            "drop_told_seconds": round(drop_told_seconds, 2),
            "baseline_rps": round(baseline["rps"]),
            "claim_rps": round(claims["rps"]),
            "ratio": round(claims["rps"] / baseline["rps"], 2),
            "socket_claim_rps": round(float(socket.get("rps", 0))),  # type: ignore[arg-type]
            "socket_ratio": round(float(socket.get("rps", 0)) / claims["rps"], 2),  # type: ignore[arg-type]
            "sockets": sockets,
            "baseline_p99_ms": round(baseline["p99_us"] / 1000, 1),
            "claim_p99_ms": round(claims["p99_us"] / 1000, 1),
            "socket_p99_ms": round(float(socket.get("p99_ms", 0)), 1),  # type: ignore[arg-type]
            "claim_cpu_us": round(http_cpu_us),
            "socket_claim_cpu_us": round(float(socket.get("cpu_us", 0))),  # type: ignore[arg-type]
            "socket_open_per_second": round(float(socket.get("open_per_second", 0))),  # type: ignore[arg-type]
            "socket_open_cpu_us": round(float(socket.get("open_cpu_us", 0))),  # type: ignore[arg-type]
            "baseline_cpu_us": round(baseline_cpu_us),
            "plain_rps": round(plain["rps"]),
            "plain_ratio": round(claims["rps"] / plain["rps"], 2),
            "plain_cpu_us": round(plain_cpu_us),
            "sweep_rps": {str(k): round(v) for k, v in swept.items()},
            "sweep_efficiency": round(sweep_efficiency, 2) if sweep_efficiency else None,
            "sweep_cpu_us_per_claim": {str(k): round(v) for k, v in swept_cpu.items()},
            "sweep_cpu_efficiency": (
                round(sweep_cpu_efficiency, 2) if sweep_cpu_efficiency else None
            ),
            "redis_cpu_us_per_claim": {str(k): round(v, 1) for k, v in redis_cpu.items()},
            "redis_claims_per_core": round(redis_ceiling) if redis_ceiling else None,
            "granted": http_window["granted"],
            "socket_granted": socket["window"]["granted"] if socket else 0,  # type: ignore[index]
            "over_granted": over,
            "lost": lost,
            "load": loads,
        }))
    finally:
        if server is not None:
            stop_server(server)
        await db.dispose()
        if args.keep:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
