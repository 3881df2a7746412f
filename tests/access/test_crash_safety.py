"""SIGKILL at any moment: a drop and its text messages still happen exactly once per person."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from live import mitalk_env
from mitalk.access.seed import seed_waitlist
from mitalk.core.database import Database


async def scalar(db: Database, sql: str) -> int:
    if db.is_sqlite:
        # A plain WAL reader: it never waits behind the writer being watched (the app's engine
        # begins every transaction IMMEDIATE, which would queue the poll behind each batch).
        path = db.url.split("///", 1)[1]
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return int(conn.execute(sql).fetchone()[0] or 0)
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(sql))).scalar() or 0)


async def kill_when(
    process: subprocess.Popen[str], db: Database, sql: str, threshold: int, timeout: float = 60
) -> int:
    """SIGKILL the process as soon as ``sql`` counts past ``threshold``; returns the count then."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.poll() is None and loop.time() < deadline:
        value = await scalar(db, sql)
        if value >= threshold:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"process ended (rc={process.poll()}) before reaching {threshold}")


SPAWNED: list[subprocess.Popen[str]] = []


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start `mitalk`; its log goes to a file (an unread pipe would fill up and block it)."""
    log = open(Path(env["MITALK_DATA_DIR"]).parent / f"{args[0]}-{os.urandom(3).hex()}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "mitalk", *args], env=env, stdout=log, stderr=log, text=True
    )
    SPAWNED.append(process)
    return process


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mitalk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_killed_drops_and_workers_never_admit_or_text_twice(
    database_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    env = mitalk_env(data, MITALK_DATABASE_URL=database_url)
    db = Database(database_url)
    try:
        await seed_waitlist(db, 3000)
        admitted_sql = "SELECT COALESCE(MAX(admitted), 0) FROM pass_drops WHERE id = 'launch'"
        seen = []
        for threshold in (100, 600, 1200):
            process = spawn(
                env, "admin", "passes", "drop", "2000", "--id", "launch", "--batch", "10"
            )
            seen.append(await kill_when(process, db, admitted_sql, threshold))
        assert all(0 < s < 2000 for s in seen) and seen == sorted(seen), seen  # killed mid-drop

        finish = run(env, "admin", "passes", "drop", "2000", "--id", "launch")
        assert finish.returncode == 0, finish.stderr
        assert (
            finish.stdout.strip().startswith("admitted 2000")
            and "resuming drop launch" in finish.stderr
        )
        assert "already ran" in run(env, "admin", "passes", "drop", "2000", "--id", "launch").stdout

        # Exactly the first 2000 in line are in; counters and notices agree.
        assert await scalar(db, "SELECT COUNT(*) FROM users WHERE status = 'active'") == 2000
        assert (
            await scalar(db, "SELECT MAX(seq) FROM waitlist WHERE admitted_at IS NOT NULL") == 2000
        )
        assert await scalar(db, "SELECT MIN(seq) FROM waitlist WHERE admitted_at IS NULL") == 2001
        assert await scalar(db, "SELECT admitted FROM waitlist_counters") == 2000
        assert await scalar(db, "SELECT COUNT(DISTINCT user_id) FROM notifications") == 2000
        assert await scalar(db, "SELECT COUNT(*) FROM notifications") == 2000

        # The text-message worker, killed mid-batch twice, then run to the end.
        sent_sql = "SELECT COUNT(*) FROM notifications WHERE sms_status = 'sent'"
        for threshold in (300, 1100):
            worker = spawn(env, "worker")
            await kill_when(worker, db, sent_sql, threshold)
        # Leases of the killed workers must run out before their messages are due again.
        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE notifications SET sms_next_at = created_at WHERE sms_status = 'sending'"
                )
            )
        last = run(env, "worker", "--once")
        assert last.returncode == 0, last.stderr
        assert await scalar(db, sent_sql) == 2000

        messages = [
            json.loads(line) for line in (data / "sms-outbox.jsonl").read_text().splitlines()
        ]
        recipients = [m["to"] for m in messages]
        assert len(recipients) == 2000 and len(set(recipients)) == 2000  # once each, never twice
        assert all("You're in" in m["body"] for m in messages)
    finally:
        for process in SPAWNED:  # nothing outlives the test, even when it fails
            if process.poll() is None:
                process.kill()
                process.wait(10)
        await db.dispose()
