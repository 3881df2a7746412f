"""Claims over the account socket: the window's opening pushed to every waitlister at once, and
``{"type": "pass.claim"}`` answered by ``pass.claim_result`` with the same rules as HTTP."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession

from conftest import REDIS_URL, Clock, flush_redis, run_aside
from factories import Person, bulk_waitlisters, in_transaction, set_phase
from me.test_account_socket import account_socket, next_of, sign_in
from mitalk.access import service as access
from mitalk.access.claims import RedisClaimDesk
from mitalk.core.database import utcnow
from mitalk.core.settings import Settings
from realtime.conftest import Live, receive


@pytest.fixture(params=["desk-default", "desk-redis"])
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """Socket claims go through the deployment's desk: the default one and the Redis one."""
    redis_url = None
    if request.param == "desk-redis":
        redis_url = REDIS_URL
        run_aside(flush_redis(redis_url))
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, secret_key="k",
        redis_url=redis_url, run_workers=False, media="off",
        claims_per_address=6, claim_limit_seconds=60,
    )


def claim(ws: WebSocketTestSession) -> dict[str, Any]:
    ws.send_json({"type": "pass.claim"})
    return next_of(ws, "pass.claim_result")


def people(live: Live, count: int) -> list[Person]:
    return live.http.portal.call(  # type: ignore[union-attr]
        bulk_waitlisters, live.app.state.db, live.app.state.settings, count
    )


def grants_recorded(live: Live, window_id: str) -> tuple[int, int]:
    """(grants in the database, the window's count), once the Redis stream reached it."""
    from sqlalchemy import func, select

    from mitalk.access.models import PassGrant, PassWindow

    async def read() -> tuple[int, int]:
        desk = live.app.state.claim_desk
        if isinstance(desk, RedisClaimDesk):
            await desk.drain()

        async def work(session):  # type: ignore[no-untyped-def]
            recorded = await session.scalar(
                select(func.count()).select_from(PassGrant).where(PassGrant.window_id == window_id)
            )
            counted = await session.scalar(
                select(PassWindow.granted).where(PassWindow.id == window_id)
            )
            return int(recorded or 0), int(counted or 0)

        return await in_transaction(live.app.state.db, work)

    return live.http.portal.call(read)  # type: ignore[union-attr, no-any-return]


def test_the_opening_is_pushed_on_time_and_claims_answer_over_the_socket(
    live: Live, clock: Clock
) -> None:
    first, second, third = people(live, 3)
    sockets = [account_socket(live, p) for p in (first, second, third)]
    try:
        for ws in sockets:
            ws.__enter__()
            assert receive(ws)["type"] == "hello"
        # Announced 3 s ahead, with room for two: every node learns of it within a poll (2 s).
        opens = utcnow() + dt.timedelta(seconds=3)
        window = live.http.portal.call(  # type: ignore[union-attr]
            in_transaction, live.app.state.db,
            lambda s: access.open_window(s, 2, utcnow(), opens_at=opens),
        )
        assert claim(sockets[0]) == {
            "type": "pass.claim_result", "result": "closed", "retry_after": None, "code": None,
        }
        for ws in sockets:
            # Skip the "scheduled" notice; the next one is the opening, sent when it opens.
            shown = next_of(ws, "waitlist.window")["window"]
            if shown["state"] == "scheduled":
                shown = next_of(ws, "waitlist.window")["window"]
            assert shown["state"] == "open" and shown["id"] == window.id
            assert utcnow() >= opens  # not before it opens
        assert claim(sockets[0])["result"] == "granted"
        assert claim(sockets[0])["result"] == "granted"  # repeating answers the same
        assert claim(sockets[1])["result"] == "granted"
        assert claim(sockets[2])["result"] == "sold_out"
        # HTTP says the same as the socket did.
        again = live.http.post("/api/v1/passes/claim", headers=first.headers)
        assert again.status_code == 200 and again.json() == {"status": "granted"}
        assert grants_recorded(live, window.id) == (2, 2)
        # The winners are let in: the socket says so, as for any admission.
        assert next_of(sockets[1], "account.changed")["account"]["status"] == "active"
    finally:
        for ws in sockets:
            ws.__exit__(None, None, None)


def test_socket_claims_keep_the_fairness_rules(live: Live, outbox: Path) -> None:
    live.http.portal.call(set_phase, live.app.state.db, "invite")  # type: ignore[union-attr]
    early = people(live, 1)[0]
    window = live.http.portal.call(  # type: ignore[union-attr]
        in_transaction, live.app.state.db, lambda s: access.open_window(s, 5, utcnow())
    )
    late = sign_in(live, outbox)  # made after the announcement
    assert late.account["status"] == "waitlisted"
    member = live.members(1)[0]
    with account_socket(live, late) as ws:
        assert receive(ws)["type"] == "hello"
        assert claim(ws)["result"] == "not_eligible"
    with account_socket(live, member) as ws:
        assert receive(ws)["type"] == "hello"
        assert claim(ws)["result"] == "already_member"
    with account_socket(live, early) as ws:
        assert receive(ws)["type"] == "hello"
        # The address's limit (6 here) counts socket claims with HTTP ones: two were spent above.
        results = [claim(ws)["result"] for _ in range(4)]
        assert results == ["granted"] * 4
        limited = claim(ws)
        assert limited["result"] == "rate_limited" and 1 <= limited["retry_after"] <= 60
    assert grants_recorded(live, window.id) == (1, 1)
