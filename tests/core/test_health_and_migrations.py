"""Health answers, and migrations that match the models on both databases."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from mitalk.app import create_app
from mitalk.core.database import Base, Database
from mitalk.core.migrate import current_revision
from mitalk.core.settings import Settings
from mitalk.search.schema import include_name


async def test_healthz_ok(client: AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["checks"]["database"] == "ok"


async def test_healthz_answers_while_a_writer_holds_sqlites_lock(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """A long write (a drop of passes, a stuck request) holds SQLite's write lock: /healthz
    reads outside any transaction and still answers (it used to queue behind the lock, then
    fail with "database is locked" after the 30 s busy timeout)."""
    path = tmp_path / "mitalk.db"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{path}", secret_key="k",
        media="off", run_workers=False,
    )
    app = create_app(settings)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
        ):
            writer.execute("BEGIN IMMEDIATE")
            response = await asyncio.wait_for(client.get("/healthz"), 20)  # a bound
            assert response.status_code == 200, response.text
            writer.execute("ROLLBACK")
    finally:
        writer.close()


async def test_healthz_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://nobody:x@127.0.0.1:9/none",
        secret_key="k",
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
    ):
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
    assert "database" in response.json()["error"]["message"]


async def test_openapi_and_docs_are_served(client: AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/auth/code" in schema["paths"]
    assert (await client.get("/api/docs")).status_code == 200


async def test_migrations_match_the_models(app: FastAPI, db: Database) -> None:
    assert await current_revision(db) is not None
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(
                    sync, opts={"compare_type": False, "include_name": include_name}
                ),
                Base.metadata,
            )
        )
    assert diff == []


def test_the_data_dir_is_absolute_whatever_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("var"))
    assert settings.data_dir == tmp_path.resolve() / "var"
    assert settings.resolved_database_url.endswith(f"{tmp_path.resolve()}/var/mitalk.db")
