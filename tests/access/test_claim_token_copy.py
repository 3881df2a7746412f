"""The Redis desk's copy of a window's claimants' sessions: a claim is one Redis call, and the copy
never lets in a token the database would refuse (signed out, made after the announcement)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from redis.asyncio import Redis

from conftest import REDIS_URL, flush_redis, run_aside
from factories import bulk_waitlisters, in_transaction, waitlister
from mitalk.access import service as access
from mitalk.access.claims import RedisClaimDesk
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    run_aside(flush_redis(REDIS_URL))
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, secret_key="k",
        redis_url=REDIS_URL, run_workers=False,
    )


async def copied(window_id: str, expected: int) -> int:
    """How many sessions the window's copy holds, once it appeared (bounded wait)."""
    redis = Redis.from_url(REDIS_URL)
    try:
        for _ in range(100):
            size = int(await redis.hlen(f"mitalk:win:{window_id}:tokens"))
            if size >= expected:
                return size
            await asyncio.sleep(0.05)
        return size
    finally:
        await redis.aclose()


async def test_claims_use_the_copy_and_the_copy_obeys_sign_out_and_eligibility(
    app: FastAPI, client: AsyncClient, db: Database, settings: Settings, outbox: Path
) -> None:
    assert isinstance(app.state.claim_desk, RedisClaimDesk)
    member_of_line = await waitlister(client, outbox)
    people = await bulk_waitlisters(db, settings, 4)
    # Announced a moment ahead: the desk copies the claimants' sessions before it opens.
    opens = utcnow() + dt.timedelta(seconds=1.5)
    window = await in_transaction(
        db, lambda s: access.open_window(s, 10, utcnow(), opens_at=opens)
    )
    early = await client.post("/api/v1/passes/claim", headers=people[0].headers)  # copies it
    assert early.status_code == 409 and early.json()["error"]["code"] == "window_closed"
    assert await copied(window.id, 5) == 5  # the five waitlisters' sessions, nobody else
    late = await waitlister(client, outbox)  # made after the announcement: not in the copy

    signed_out = await client.post("/api/v1/auth/logout", headers=people[1].headers)
    assert signed_out.status_code == 204
    await asyncio.sleep(max(0.0, (opens - utcnow()).total_seconds()) + 0.6)  # opened, re-read

    granted = await client.post("/api/v1/passes/claim", headers=people[0].headers)
    assert granted.status_code == 200, granted.text
    # Still in the copy, but signed out: refused as the database would refuse it.
    refused = await client.post("/api/v1/passes/claim", headers=people[1].headers)
    assert refused.status_code == 401, refused.text
    not_eligible = await client.post("/api/v1/passes/claim", headers=late.headers)
    assert not_eligible.status_code == 403
    assert not_eligible.json()["error"]["code"] == "not_eligible"
    wrong = await client.post("/api/v1/passes/claim", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    also = await client.post("/api/v1/passes/claim", headers=member_of_line.headers)
    assert also.status_code == 200
    await app.state.claim_desk.drain()
    me = (await client.get("/api/v1/me", headers=people[0].headers)).json()
    assert me["status"] == "active"
