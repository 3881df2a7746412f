"""POST /api/v1/passes/claim is served by a plain ASGI route ahead of FastAPI's routes
(access/endpoints.py, ClaimEndpoint): it must still look, count and answer like every route."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from conftest import Clock
from factories import in_transaction, waitlister
from mitalk.access import service as access
from mitalk.access.endpoints import ClaimRoute
from mitalk.core.database import Database
from mitalk.core.metrics import REQUESTS

CLAIM = "/api/v1/passes/claim"


async def open_window(db: Database, total: int, clock: Clock) -> None:
    await in_transaction(db, lambda s: access.open_window(s, total, clock()))
    clock.advance(1)  # past the desk's memory of "no window open"


def claims_counted(status: str) -> float:
    """The metrics' count of claims answered with ``status``."""
    return float(REQUESTS.labels("POST", CLAIM, status)._value.get())


async def test_claims_take_the_fast_route_and_keep_the_apps_answers(
    app: FastAPI, client: AsyncClient, outbox: Path, db: Database, clock: Clock
) -> None:
    assert isinstance(app.router.routes[0], ClaimRoute)
    person = await waitlister(client, outbox)
    closed_before, granted_before = claims_counted("409"), claims_counted("200")

    closed = await client.post(CLAIM, headers=person.headers)
    assert closed.status_code == 409
    assert closed.json()["error"]["code"] == "window_closed"  # the app's error handlers

    await open_window(db, 1, clock)
    granted = await client.post(CLAIM, headers=person.headers)
    assert granted.status_code == 200 and granted.json() == {"status": "granted"}
    assert granted.headers["content-type"] == "application/json"
    assert int(granted.headers["content-length"]) == len(granted.content)
    # The metrics label it by its route, as FastAPI's routes are labelled.
    assert claims_counted("409") == closed_before + 1
    assert claims_counted("200") == granted_before + 1

    nobody = await client.post(CLAIM)
    assert nobody.status_code == 401 and nobody.json()["error"]["code"] == "not_authenticated"
    # Another method is not a claim: the API's "no such endpoint" (the web client's catch-all
    # answers GET for paths under /api that no route takes), never a grant.
    wrong_method = await client.get(CLAIM, headers=person.headers)
    assert wrong_method.status_code == 404
    assert wrong_method.json()["error"]["code"] == "not_found"


async def test_every_https_answer_carries_hsts_once(
    app: FastAPI, client: AsyncClient, outbox: Path, db: Database, clock: Clock
) -> None:
    """The answer's headers are built afresh per claim: the HSTS middleware adds its header to
    each, and a shared list would collect one more per request."""
    people = [await waitlister(client, outbox) for _ in range(3)]
    await open_window(db, 3, clock)
    transport = ASGITransport(app=app, client=("203.0.113.8", 40000))
    async with AsyncClient(transport=transport, base_url="https://mitalk.test") as secure:
        for person in people:
            answer = await secure.post(CLAIM, headers=person.headers)
            assert answer.status_code == 200
            assert len(answer.headers.get_list("strict-transport-security")) == 1


async def test_the_claim_is_still_documented(client: AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    claim = schema["paths"][CLAIM]["post"]
    assert set(claim["responses"]) >= {"200", "401", "403", "409", "429"}
    assert claim["security"] == [{"HTTPBearer": []}, {"APIKeyCookie": []}]
