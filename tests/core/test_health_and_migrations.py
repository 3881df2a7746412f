"""Health answers, and migrations that match the models on both databases."""

from __future__ import annotations

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


async def test_healthz_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url="postgresql+asyncpg://nobody:x@127.0.0.1:9/none", secret_key="k"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
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
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": False, "include_name": include_name}), Base.metadata)
        )
    assert diff == []


def test_the_data_dir_is_absolute_whatever_was_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(data_dir=Path("var"))
    assert settings.data_dir == tmp_path.resolve() / "var"
    assert settings.resolved_database_url.endswith(f"{tmp_path.resolve()}/var/mitalk.db")
