"""The operator's view: size of the line, passes per drop and window, claim rate."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import SecretStr

from factories import bulk_waitlisters, in_transaction, member, staff_member
from live import run_cli
from mitalk.access import service as access
from mitalk.access.drops import run_drop
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings


async def test_stats_need_the_operator_token_and_add_up(
    app: FastAPI, client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    app.state.settings.operator_token = SecretStr("op-secret-123")
    people = await bulk_waitlisters(db, settings, 10)
    await run_drop(db, settings, 3, "d1")
    await in_transaction(db, lambda s: access.open_window(s, 2, utcnow()))
    for person in people[3:6]:
        await client.post("/api/v1/passes/claim", headers=person.headers)

    users = [
        None,
        people[9],
        await member(client, outbox, db),
        await staff_member(client, outbox, db, settings),
    ]
    for user in users:
        headers = user.headers if user else {}
        refused = await client.get("/api/v1/admin/waitlist/stats", headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "operator_only"

    response = await client.get(
        "/api/v1/admin/waitlist/stats", headers={"Authorization": "Bearer op-secret-123"}
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["joined"], stats["admitted"], stats["waiting"]) == (10, 5, 5)
    assert [(d["id"], d["admitted"], d["status"]) for d in stats["drops"]] == [("d1", 3, "done")]
    assert [(w["total"], w["granted"], w["state"]) for w in stats["windows"]] == [
        (2, 2, "sold_out")
    ]
    assert stats["claims_per_second_last_10s"] == 0.2


async def test_stats_are_off_without_a_token(client: AsyncClient) -> None:
    response = await client.get(
        "/api/v1/admin/waitlist/stats", headers={"Authorization": "Bearer "}
    )
    assert response.status_code == 403


def test_stats_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run_cli(data, "admin", "passes", "window", "5").returncode == 0
    result = run_cli(data, "admin", "waitlist", "stats")
    assert result.returncode == 0, result.stderr
    assert "waiting 0" in result.stdout and "0/5 granted (open)" in result.stdout
    as_json = run_cli(data, "admin", "waitlist", "stats", "--json")
    assert '"waiting": 0' in as_json.stdout
