"""Claim windows across real server processes: several workers share one window, and a SIGKILL
of the server mid-window loses no granted pass and grants none too many; over HTTP and over the
account socket (``pass.claim``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import websockets
from sqlalchemy import text

from conftest import REDIS_URL, flush_redis, run_aside
from live import free_port, mitalk_env
from mitalk.access import service as access
from mitalk.access.seed import seed_sessions, seed_waitlist
from mitalk.core.database import Database, unit_of_work, utcnow


@contextmanager
def server(
    database_url: str, data: Path, workers: int, redis: str | None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mitalk serve` in its own process group (SIGKILL reaches every worker)."""
    port = free_port()
    # Every claimant here comes from one loopback address: lift the per-address claim limit.
    extra = {
        "MITALK_DATABASE_URL": database_url,
        "MITALK_RUN_WORKERS": "false",
        "MITALK_CLAIMS_PER_ADDRESS": "1000000",
    }
    if redis:
        extra["MITALK_REDIS_URL"] = redis
    log = (data.parent / f"serve-{port}.log").open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mitalk",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=mitalk_env(data, **extra),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"mitalk serve exited; see {log.name}"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"mitalk serve did not start; see {log.name}"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()


async def claim_all(base: str, tokens: list[str], repeats: int) -> dict[str, set[int]]:
    """Every token claims ``repeats`` times, many at once; statuses per token."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def one(token: str) -> tuple[str, int]:
            try:
                response = await client.post(
                    "/api/v1/passes/claim", headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError:
                return token, 0  # the server was killed under this request
            assert response.status_code in (200, 409), response.text
            return token, response.status_code

        results = await asyncio.gather(*(one(t) for t in tokens for _ in range(repeats)))
    statuses: dict[str, set[int]] = {}
    for token, status in results:
        statuses.setdefault(token, set()).add(status)
    return statuses


async def claim_all_over_sockets(
    base: str, tokens: list[str], repeats: int
) -> dict[str, set[int]]:
    """The same over account sockets: each token opens one and sends ``pass.claim`` ``repeats``
    times; the answers are mapped to the HTTP statuses (granted 200, refused 409, killed 0)."""
    url = base.replace("http://", "ws://") + "/api/v1/me/ws?token="
    limit = asyncio.Semaphore(64)

    async def one(token: str) -> tuple[str, set[int]]:
        codes: set[int] = set()
        async with limit:
            try:
                async with websockets.connect(url + token, open_timeout=30) as ws:
                    assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "hello"
                    for _ in range(repeats):
                        await ws.send(json.dumps({"type": "pass.claim"}))
                        while (message := json.loads(await asyncio.wait_for(ws.recv(), 30)))[
                            "type"
                        ] != "pass.claim_result":
                            pass
                        assert message["result"] in ("granted", "sold_out"), message
                        codes.add(200 if message["result"] == "granted" else 409)
            except TimeoutError as exc:
                raise AssertionError("a socket claim went unanswered for 30 s") from exc
            except (OSError, EOFError, websockets.exceptions.WebSocketException):
                codes.add(0)  # the server was killed under this claim (or this handshake)
        return token, codes

    return dict(await asyncio.gather(*(one(t) for t in tokens)))


async def claim_via(via: str, base: str, tokens: list[str], repeats: int) -> dict[str, set[int]]:
    """Claims over HTTP or over the account socket."""
    if via == "socket":
        return await claim_all_over_sockets(base, tokens, repeats)
    return await claim_all(base, tokens, repeats)


async def recorded_grants(db: Database, window_id: str) -> tuple[int, int, int]:
    async with db.engine.connect() as conn:
        total = (
            await conn.execute(
                text("SELECT COUNT(*) FROM pass_grants WHERE window_id = :w"), {"w": window_id}
            )
        ).scalar()
        people = (
            await conn.execute(
                text("SELECT COUNT(DISTINCT user_id) FROM pass_grants WHERE window_id = :w"),
                {"w": window_id},
            )
        ).scalar()
        counted = (
            await conn.execute(
                text("SELECT granted FROM pass_windows WHERE id = :w"), {"w": window_id}
            )
        ).scalar()
    return int(total or 0), int(people or 0), int(counted or 0)


async def settle(
    db: Database, window_id: str, expected: int, timeout: float = 30
) -> tuple[int, int, int]:
    """Wait for the grant stream to reach the database (Redis desk) up to ``expected`` grants."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await recorded_grants(db, window_id)
        if found[0] >= expected or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("via", ["http", "socket"])
async def test_two_workers_share_one_window_exactly(
    via: str, database_url: str, tmp_path: Path
) -> None:
    run_aside(flush_redis(REDIS_URL))
    db = Database(database_url)
    try:
        await seed_waitlist(db, 300)
        tokens = await seed_sessions(db, 1, 300)
        async with unit_of_work(db) as session:
            window = await access.open_window(session, 100, utcnow())
        with server(database_url, tmp_path / "data", workers=2, redis=REDIS_URL) as (base, _):
            statuses = await claim_via(via, base, tokens, repeats=2)
        winners = [t for t, codes in statuses.items() if codes == {200}]
        assert len(winners) == 100
        assert all(codes == {409} for t, codes in statuses.items() if t not in winners)
        assert await settle(db, window.id, 100) == (100, 100, 100)
    finally:
        await db.dispose()


@pytest.mark.parametrize("via", ["http", "socket"])
@pytest.mark.parametrize("desk", ["default", "redis"])
async def test_server_killed_mid_window_loses_and_overgrants_nothing(
    desk: str, via: str, database_url: str, tmp_path: Path
) -> None:
    redis = REDIS_URL if desk == "redis" else None
    if redis:
        run_aside(flush_redis(redis))
    db = Database(database_url)
    data = tmp_path / "data"
    try:
        await seed_waitlist(db, 400)
        tokens = await seed_sessions(db, 1, 400)
        async with unit_of_work(db) as session:
            window = await access.open_window(session, 150, utcnow())
        with server(database_url, data, workers=1, redis=redis) as (base, process):
            claims = asyncio.create_task(claim_via(via, base, tokens[:300], repeats=1))
            # SIGKILL the whole server once some passes are granted, mid-window.
            while (await recorded_grants(db, window.id))[0] < 20 and not claims.done():
                await asyncio.sleep(0.01)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            first = await claims
        granted_before = {t for t, codes in first.items() if 200 in codes}
        assert granted_before, "the kill came before any claim was answered"
        with server(database_url, data, workers=1, redis=redis) as (base, _):
            # Everyone who was told "granted" still holds a pass; the rest of the line claims now.
            again = await claim_via(via, base, tokens, repeats=1)
            holders = {t for t, codes in again.items() if codes == {200}}
            assert granted_before <= holders
            assert len(holders) == 150  # the window sells out exactly
            total, people, counted = await settle(db, window.id, 150)
        assert (total, people, counted) == (150, 150, 150)
    finally:
        await db.dispose()
