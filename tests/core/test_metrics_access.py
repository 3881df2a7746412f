"""/metrics answers the operator only (``Authorization: Bearer $MITALK_OPERATOR_TOKEN``): route
names and request counts tell what people do, and the page was public."""

from __future__ import annotations

from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import SecretStr

from mitalk.core.database import Database
from rooms.kit import make_members


async def test_metrics_need_the_operator_token(
    app: FastAPI, client: AsyncClient, db: Database
) -> None:
    (member,) = await make_members(db, 1)
    assert (await client.get("/healthz")).status_code == 200
    refused = await client.get("/metrics")  # no operator token configured: nobody
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "operator_only")
    app.state.settings.operator_token = SecretStr("op-metrics-secret")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic op-metrics-secret"},
        member.headers,  # a member's session is not the operator
    ):
        answer = await client.get("/metrics", headers=headers)
        assert answer.status_code == 403, headers
        assert "mitalk_http_requests_total" not in answer.text
    allowed = await client.get("/metrics", headers={"Authorization": "Bearer op-metrics-secret"})
    assert allowed.status_code == 200
    assert "mitalk_http_requests_total" in allowed.text
