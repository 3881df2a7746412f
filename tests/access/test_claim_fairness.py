"""Claim windows are hard to game: one pass per account, no accounts minted for the race, and a
limit with a number on how often one network address may claim."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select

from conftest import REDIS_URL, flush_redis, run_aside
from factories import bulk_waitlisters, in_transaction, waitlister, window_shown
from mitalk.access import service as access
from mitalk.access.claims import RedisClaimDesk
from mitalk.access.models import PassGrant, PassWindow
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings


@pytest.fixture(params=["desk-default", "desk-redis"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """Every rule here holds on the deployment's default desk and on the Redis desk."""
    redis_url = None
    if request.param == "desk-redis":
        redis_url = REDIS_URL
        run_aside(flush_redis(redis_url))
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, secret_key="k",
        redis_url=redis_url, run_workers=False, claims_per_address=4, claim_limit_seconds=60,
    )


async def grants(app: FastAPI, db: Database, window_id: str) -> tuple[int, int]:
    """(grants recorded, the window's count) once every grant reached the database."""
    if isinstance(app.state.claim_desk, RedisClaimDesk):
        await app.state.claim_desk.drain()

    async def read(session):  # type: ignore[no-untyped-def]
        recorded = await session.scalar(
            select(func.count()).select_from(PassGrant).where(PassGrant.window_id == window_id)
        )
        counted = await session.scalar(select(PassWindow.granted).where(PassWindow.id == window_id))
        return int(recorded or 0), int(counted or 0)

    return await in_transaction(db, read)


@pytest.fixture
async def other_client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    """A client from another network address than ``client``'s."""
    transport = ASGITransport(app=app, client=("198.51.100.9", 41000))
    async with AsyncClient(transport=transport, base_url="http://mitalk.test") as c:
        yield c



async def test_accounts_made_after_the_announcement_may_not_claim(
    app: FastAPI, client: AsyncClient, other_client: AsyncClient, outbox: Path, db: Database
) -> None:
    before = await waitlister(client, outbox)
    window = await in_transaction(db, lambda s: access.open_window(s, 5, utcnow()))
    await window_shown()
    after = await waitlister(other_client, outbox)

    refused = await other_client.post("/api/v1/passes/claim", headers=after.headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "not_eligible"
    granted = await client.post("/api/v1/passes/claim", headers=before.headers)
    assert granted.status_code == 200 and granted.json() == {"status": "granted"}
    # The refused account took nothing and still waits in line.
    assert await grants(app, db, window.id) == (1, 1)
    me = (await other_client.get("/api/v1/me", headers=after.headers)).json()
    assert me["status"] == "waitlisted"


async def test_one_address_is_limited_with_retry_after(
    app: FastAPI, client: AsyncClient, other_client: AsyncClient, db: Database,
    settings: Settings,
) -> None:
    people = await bulk_waitlisters(db, settings, 6)
    window = await in_transaction(db, lambda s: access.open_window(s, 10, utcnow()))
    await window_shown()

    # The limit counts every claim from the address, repeats included: 4 here.
    answers = [
        await client.post("/api/v1/passes/claim", headers=p.headers) for p in people[:3]
    ]
    answers.append(await client.post("/api/v1/passes/claim", headers=people[0].headers))
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    limited = await client.post("/api/v1/passes/claim", headers=people[3].headers)
    assert limited.status_code == 429, limited.text
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Refused before the desk: no pass went to the limited claim.
    assert await grants(app, db, window.id) == (3, 3)
    # Another address is not held back by this one.
    elsewhere = await other_client.post("/api/v1/passes/claim", headers=people[3].headers)
    assert elsewhere.status_code == 200
    assert await grants(app, db, window.id) == (4, 4)


async def test_one_pass_per_account_however_often_it_claims(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings
) -> None:
    [person] = await bulk_waitlisters(db, settings, 1)
    window = await in_transaction(db, lambda s: access.open_window(s, 3, utcnow()))
    await window_shown()
    answers = [
        (await client.post("/api/v1/passes/claim", headers=person.headers)).status_code
        for _ in range(3)
    ]
    assert answers == [200, 200, 200]
    assert await grants(app, db, window.id) == (1, 1)
