"""The launch rush: a 1.3 million waitlist, a 50,000 drop, and a 50,000-pass claim window.

What it does, in one run on this machine:

1. Builds the waitlist directly in the database (bulk COPY / executemany), timed.
2. Runs a 50,000 drop with the same job `mitalk admin passes drop` uses, timed (the work,
   without the command's ~1 s of Python start-up).
3. Gives `--claimants` waitlisters (more than the passes) session tokens, starts the server
   stack in separate processes (uvicorn with the Mi Talk app; `--redis` runs two workers sharing
   one Redis claim desk), and hammers it over real HTTP with `wrk` (a C load generator, another
   process) with many connections: first a bare endpoint on the same stack (the baseline), then
   `POST /api/v1/passes/claim` while a window of `--passes` passes opens.
4. Checks the outcome in the database (granted, over-granted, one per person), plots grants
   over time and latency percentiles to a PNG, and ends with one JSON line.

Targets on this 2-core machine, load generator included: drop_seconds <= 2, claim_seconds <= 5,
over_granted = 0, ratio >= 0.5 (claim requests/s over bare requests/s).

    python bench/rush.py                      # SQLite, embedded default, one process
    python bench/rush.py --db postgres        # PostgreSQL (MITALK_BENCH_POSTGRES_URL)
    python bench/rush.py --db postgres --redis --workers 2
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


def start_server(url: str, redis: str | None, workers: int, port: int, data: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env.update(
        MITALK_DATA_DIR=str(data), MITALK_DATABASE_URL=url, MITALK_MEDIA="off", MITALK_RUN_WORKERS="false",
        MITALK_SECRET_KEY="rush", MITALK_LOG_LEVEL="warning",
    )
    if redis:
        env["MITALK_REDIS_URL"] = redis
    log = (data / "server.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "_rush_app:create", "--app-dir", str(HERE),
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
         "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )


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


def wrk(base: str, path: str, tokens: Path, seconds: int, connections: int, threads: int = 2) -> dict[str, float]:
    """Run wrk against ``path``; returns its RESULT line as a dict."""
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(HERE / "_rush.lua"), base, "--", str(tokens), path, str(threads)],
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    match = re.search(r"^RESULT (.+)$", out, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    result: dict[str, float] = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


async def grants_over_time(db: Database, window_id: str) -> list[dt.datetime]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT granted_at FROM pass_grants WHERE window_id = :w ORDER BY granted_at"), {"w": window_id}
        )
        moments = [r[0] if isinstance(r[0], dt.datetime) else dt.datetime.fromisoformat(r[0]) for r in rows]
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="claims through the Redis desk")
    parser.add_argument("--workers", type=int, default=None, help="server processes (default 1; 2 with --redis)")
    parser.add_argument("--waitlist", type=int, default=1_300_000)
    parser.add_argument("--drop", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=50_000)
    parser.add_argument("--claimants", type=int, default=65_000)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--seconds", type=int, default=20, help="duration of each load run (at most 120)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.claimants <= args.passes:
        parser.error("--claimants must exceed --passes (more people than passes)")
    if args.waitlist < args.drop + args.claimants:
        parser.error("--waitlist must hold the drop and the claimants")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk")
    seconds = min(args.seconds, 120)
    workers = args.workers or (2 if args.redis else 1)
    if workers > 1 and not args.redis:
        parser.error("several workers need --redis (the claim desk must be shared)")

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
    try:
        say(f"building a waitlist of {args.waitlist:,} in {args.db} …")
        started = time.perf_counter()
        await seed_waitlist(db, args.waitlist)
        say(f"  {time.perf_counter() - started:.1f} s")

        say(f"dropping {args.drop:,} passes …")
        started = time.perf_counter()
        dropped = await run_drop(db, settings, args.drop, "rush-drop")
        drop_seconds = time.perf_counter() - started
        say(f"  admitted {dropped.admitted:,} in {drop_seconds:.2f} s")

        tokens = work / "tokens.txt"
        await give_tokens(db, args.drop + 1, args.claimants, tokens)
        port = 18000 + os.getpid() % 1000
        base = f"http://127.0.0.1:{port}"
        server = start_server(url, redis_url, workers, port, work)
        wait_healthy(base, server)

        say(f"baseline: bare endpoint, {args.connections} connections, {seconds} s …")
        baseline = wrk(base, "/bench/bare", tokens, seconds, args.connections)
        say(f"  {baseline['rps']:,.0f} requests/s, p99 {baseline['p99_us'] / 1000:.1f} ms")

        async with unit_of_work(db) as session:
            window = await access.open_window(session, args.passes, utcnow())
        say(f"claims: window of {args.passes:,} passes, {args.claimants:,} claimants, {seconds} s …")
        claims = wrk(base, "/api/v1/passes/claim", tokens, seconds, args.connections)
        say(f"  {claims['rps']:,.0f} requests/s, p99 {claims['p99_us'] / 1000:.1f} ms")

        # With Redis, the grant stream reaches the database a moment later: wait for it to settle.
        settle_by = time.monotonic() + 30
        granted = await count(db, "SELECT COUNT(*) FROM pass_grants WHERE window_id = :w", w=window.id)
        while redis_url and time.monotonic() < settle_by:
            await asyncio.sleep(0.5)
            again = await count(db, "SELECT COUNT(*) FROM pass_grants WHERE window_id = :w", w=window.id)
            if again == granted:
                break
            granted = again
        distinct = await count(db, "SELECT COUNT(DISTINCT user_id) FROM pass_grants WHERE window_id = :w", w=window.id)
        counted = await count(db, "SELECT granted FROM pass_windows WHERE id = :w", w=window.id)
        over = max(0, granted - args.passes) + (granted - distinct) + max(0, counted - args.passes)
        times = await grants_over_time(db, window.id)
        claim_seconds = (times[-1] - window.opens_at).total_seconds() if times else float("nan")

        args.out.mkdir(parents=True, exist_ok=True)
        label = f"{args.db}{'+redis' if redis_url else ''}-{workers}w"
        png = args.out / f"rush-{label}.png"
        plot(png, window.opens_at, times, baseline, claims,
             f"{args.passes:,} passes, {args.claimants:,} claimants ({label})")
        say(f"plot: {png}")
        print(f"{'':<28}{'bare':>12}{'claim':>12}")
        print(f"{'requests/s':<28}{baseline['rps']:>12,.0f}{claims['rps']:>12,.0f}")
        for p in ("p50", "p90", "p99"):
            print(f"{p + ' ms':<28}{baseline[p + '_us'] / 1000:>12.1f}{claims[p + '_us'] / 1000:>12.1f}")
        print(f"{'socket errors':<28}{baseline['socket_errors']:>12.0f}{claims['socket_errors']:>12.0f}")
        print(f"granted {granted:,} of {args.passes:,} to {distinct:,} people in {claim_seconds:.2f} s "
              f"({granted / claim_seconds if claim_seconds else 0:,.0f} grants/s); drop {drop_seconds:.2f} s")
        print(json.dumps({
            "drop_seconds": round(drop_seconds, 2),
            "claim_seconds": round(claim_seconds, 2),
            "granted": granted,
            "over_granted": over,
            "claim_rps": round(claims["rps"]),
            "baseline_rps": round(baseline["rps"]),
            "ratio": round(claims["rps"] / baseline["rps"], 2),
            "p99_ms": round(claims["p99_us"] / 1000, 1),
        }))
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        await db.dispose()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
