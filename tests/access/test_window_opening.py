"""A launch's first instant: the claim desk knows an announced window before it opens, so the
quickest claims are taken at the opening itself, without waiting for the database."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func, select

from conftest import REDIS_URL, Clock, flush_redis, run_aside
from factories import bulk_waitlisters, in_transaction
from mitalk.access import repository as repo
from mitalk.access import service as access
from mitalk.access.claims import RedisClaimDesk, SqlClaimDesk
from mitalk.access.models import PassGrant
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings


@pytest.fixture(params=["desk-default", "desk-redis"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    redis_url = None
    if request.param == "desk-redis":
        redis_url = REDIS_URL
        run_aside(flush_redis(redis_url))
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, secret_key="k",
        redis_url=redis_url, run_workers=False,
    )


async def test_claims_at_the_opening_of_an_announced_window_need_no_database_read(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people = await bulk_waitlisters(db, settings, 3)
    opens = utcnow() + dt.timedelta(seconds=60)
    window = await in_transaction(db, lambda s: access.open_window(s, 2, utcnow(), opens_at=opens))
    # The app's clock stands 0.1 s before the opening: a claim now is refused, and the desk
    # learns of the announced window.
    clock.advance((opens - utcnow()).total_seconds() - 0.1)
    early = await client.post("/api/v1/passes/claim", headers=people[0].headers)
    assert early.status_code == 409, early.text
    assert early.json()["error"]["code"] == "window_closed"

    # From here the desk cannot read windows (a database hiccup at the worst moment): the
    # claims of the opening's first instant must not need it. (PostgreSQL without Redis takes
    # each claim in its own transaction, which reads the window: nothing is cached to test.)
    async def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("the database is not answering")

    if not isinstance(app.state.claim_desk, SqlClaimDesk):
        monkeypatch.setattr(repo, "unfinished_windows", unreadable)
    clock.advance(0.15)  # 0.05 s after the opening
    first = await client.post("/api/v1/passes/claim", headers=people[0].headers)
    assert first.status_code == 200, first.text
    second = await client.post("/api/v1/passes/claim", headers=people[1].headers)
    assert second.status_code == 200, second.text
    monkeypatch.undo()
    third = await client.post("/api/v1/passes/claim", headers=people[2].headers)
    assert third.status_code == 409 and third.json()["error"]["code"] == "sold_out", third.text

    if isinstance(app.state.claim_desk, RedisClaimDesk):
        await app.state.claim_desk.drain()
    else:
        await app.state.claim_desk.close()  # the local desk's last group commit is written

    async def granted(session):  # type: ignore[no-untyped-def]
        return await session.scalar(
            select(func.count()).select_from(PassGrant).where(PassGrant.window_id == window.id)
        )

    assert await in_transaction(db, granted) == 2
