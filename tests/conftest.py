"""Shared fixtures: every database test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL and Redis must be reachable (``scripts/test.sh`` starts them); a missing one fails
the run loudly instead of skipping. ``MITALK_TEST_DATABASES=sqlite`` narrows a local run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

import mitalk.models  # noqa: F401 - registers every table
from mitalk.app import create_app
from mitalk.core.database import Base, Database, utcnow
from mitalk.core.migrate import upgrade
from mitalk.core.settings import Settings

POSTGRES_URL = os.environ.get(
    "MITALK_TEST_POSTGRES_URL", "postgresql+asyncpg://mitalk:mitalk@127.0.0.1:5432/mitalk_test"
)
REDIS_URL = os.environ.get("MITALK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
T = TypeVar("T")
# Settings() reads the environment: no test starts a managed Janus unless it asks for one
# (tests/media does, inside its own network namespace).
os.environ.setdefault("MITALK_MEDIA", "off")
DATABASES = [d for d in os.environ.get("MITALK_TEST_DATABASES", "sqlite,postgres").split(",") if d]


class Clock:
    """The app's clock, movable by tests (code expiry, cool-downs, windows)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


def run_aside(coro: Coroutine[Any, Any, T]) -> T:
    """Run set-up work on its own loop in a worker thread (fixtures chosen per parameter are
    synchronous, and may be called while the test's loop is running)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def migrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        await upgrade(db)
        await db.dispose()

    run_aside(migrate())
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    """The test PostgreSQL, reset to an empty schema and migrated once per run."""

    async def reset() -> None:
        db = Database(POSTGRES_URL)
        try:
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await upgrade(db)
        finally:
            await db.dispose()

    try:
        run_aside(reset())
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_URL} ({exc!r}). Run the tests with "
            "scripts/test.sh, which starts it, or set MITALK_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    return POSTGRES_URL


async def _truncate_postgres(url: str) -> None:
    db = Database(url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    await db.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "mitalk.db"
        shutil.copy(template, target)
        return f"sqlite+aiosqlite:///{target}"
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_ready")
        run_aside(_truncate_postgres(url))
        return url
    raise ValueError(f"unknown test database {request.param!r}")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own data dir and database, default limits."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key",
        redis_url=None,
        run_workers=False,  # tests drive the workers themselves
        media="off",  # tests/media runs a real Janus inside its own network namespace
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def app(settings: Settings, clock: Clock) -> AsyncIterator[FastAPI]:
    """The real app with its lifespan running."""
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """An HTTP client talking to the app in-process (real routing, real database)."""
    transport = ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with AsyncClient(transport=transport, base_url="http://mitalk.test") as c:
        yield c


@pytest.fixture
async def db(app: FastAPI) -> Database:
    """The app's database, for arranging state the way the CLI would."""
    database: Database = app.state.db
    return database


@pytest.fixture
def outbox(settings: Settings) -> Iterator[Path]:
    """The console SMS outbox the app writes to."""
    yield settings.data_dir / "sms-outbox.jsonl"


@pytest.fixture
async def redis_url() -> str:
    """A reachable Redis (database 15, flushed), or a loud failure."""
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL)
    try:
        await asyncio.wait_for(redis.flushdb(), 5)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc!r}). Run the tests with scripts/test.sh, "
            "which starts it, or set MITALK_TEST_REDIS_URL.",
            pytrace=False,
        )
    finally:
        await redis.aclose()
    return REDIS_URL


async def flush_redis(url: str) -> None:
    """Empty the test Redis database at ``url``."""
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
