"""Sockets follow their session (issue 11, items 8 and 9): signing out, ending a session from the
list or signing out everywhere closes its room and account sockets at once, on every node; one
account holds a bounded number of sockets, and one more closes its oldest."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient, WebSocketTestSession

from factories import Person, in_transaction
from factories import another_session as add_session
from mitalk.accounts import repository as accounts_repo
from mitalk.app import create_app
from mitalk.core.database import Database
from mitalk.core.security import hash_token
from mitalk.core.settings import Settings
from mitalk.realtime.bus import MemoryEventBus
from mitalk.realtime.events import user_channel
from mitalk.realtime.sockets import SocketRegistry
from realtime.conftest import Closed, Live, receive
from rooms.kit import make_members


def another_session(live: Live, person: Person) -> Person:
    """The same account signed in on a second device."""
    return live.http.portal.call(add_session, live.app.state.db, person)  # type: ignore[union-attr]


@contextmanager
def room_socket(http: TestClient, room_id: str, person: Person) -> Iterator[WebSocketTestSession]:
    """A room socket, open once its snapshot came."""
    with http.websocket_connect(f"/api/v1/rooms/{room_id}/ws?token={person.token}") as ws:
        assert receive(ws)["type"] == "snapshot"
        yield ws


@contextmanager
def account_socket(http: TestClient, person: Person) -> Iterator[WebSocketTestSession]:
    """An account socket, open once its hello came."""
    with http.websocket_connect(f"/api/v1/me/ws?token={person.token}") as ws:
        assert receive(ws)["type"] == "hello"
        yield ws


def closed_with(ws: WebSocketTestSession, code: int, reason: str) -> None:
    """The socket says why (an error message; hallway hints and events may come before it) and
    closes with ``code``."""
    while (message := receive(ws))["type"] != "error":
        assert message["type"] in ("hallway.changed", "pong") or "seq" in message, message
    assert message["error"]["code"] == reason, message
    with pytest.raises(Closed) as closed:
        receive(ws)
    assert closed.value.code == code


def still_open(ws: WebSocketTestSession) -> None:
    """The socket answers a ping."""
    ws.send_json({"type": "ping", "ref": "alive"})
    while True:
        message = receive(ws)
        if message["type"] == "pong":
            return


def test_signing_out_closes_that_sessions_sockets_only(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "Sessions"})["id"]
    live.ok(guest, "POST", f"/rooms/{rid}/join")
    laptop = guest
    phone = another_session(live, guest)
    with (
        room_socket(live.http, rid, laptop) as laptop_room,
        account_socket(live.http, laptop) as laptop_account,
        room_socket(live.http, rid, phone) as phone_room,
        account_socket(live.http, phone) as phone_account,
    ):
        assert live.http.post("/api/v1/auth/logout", headers=laptop.headers).status_code == 204
        closed_with(laptop_room, 4401, "session_ended")
        closed_with(laptop_account, 4401, "session_ended")
        # The other device's session goes on, and its room socket still streams events.
        still_open(phone_account)
        live.ok(host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
        while (event := receive(phone_room))["type"] != "room.role_changed":
            pass
        assert event["user_id"] == guest.id


def test_the_sessions_list_ends_a_session_and_signs_out_everywhere(live: Live) -> None:
    (person,) = live.members(1)
    rid = live.ok(person, "POST", "/rooms", {"title": "Devices"})["id"]
    second, third = another_session(live, person), another_session(live, person)
    listed = live.ok(second, "GET", "/me/sessions")["sessions"]
    assert len(listed) == 3
    assert [s["current"] for s in listed].count(True) == 1
    current = next(s for s in listed if s["current"])
    first_id = next(s["id"] for s in listed if not s["current"] and s["id"] != current["id"])
    with (
        room_socket(live.http, rid, person) as a,
        room_socket(live.http, rid, third) as c,
        account_socket(live.http, second) as b,
    ):
        # From the second device, end one other session: whichever it is, its sockets close.
        live.ok(second, "DELETE", f"/me/sessions/{first_id}")
        left = {s["id"] for s in live.ok(second, "GET", "/me/sessions")["sessions"]}
        assert first_id not in left and len(left) == 2
        ended = a if live.http.get("/api/v1/me", headers=person.headers).status_code == 401 else c
        kept = c if ended is a else a
        closed_with(ended, 4401, "session_ended")
        still_open(kept)
        # Ending a session that is gone (or someone else's) is a 404 and changes nothing.
        again = live.http.delete(f"/api/v1/me/sessions/{first_id}", headers=second.headers)
        assert again.status_code == 404 and again.json()["error"]["code"] == "session_not_found"
        # Sign out everywhere: every session ends, this one too, and every socket closes.
        signed_out = live.http.post("/api/v1/auth/logout-all", headers=second.headers)
        assert signed_out.status_code == 204
        closed_with(kept, 4401, "session_ended")
        closed_with(b, 4401, "session_ended")
    for who in (person, second, third):
        assert live.http.get("/api/v1/me", headers=who.headers).status_code == 401


def test_a_stranger_cannot_end_someone_elses_session(live: Live) -> None:
    owner, stranger = live.members(2)
    owner_session = live.ok(owner, "GET", "/me/sessions")["sessions"][0]["id"]
    response = live.http.delete(f"/api/v1/me/sessions/{owner_session}", headers=stranger.headers)
    assert response.status_code == 404
    assert live.http.get("/api/v1/me", headers=owner.headers).status_code == 200


def test_one_more_socket_than_the_cap_closes_the_oldest(live: Live) -> None:
    settings = live.app.state.settings
    live.app.state.sockets.caps.update({"room": 2, "account": 1})
    assert settings.room_sockets_per_account == 10 and settings.account_sockets_per_account == 5
    host, other = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "Many tabs"})["id"]
    with room_socket(live.http, rid, host) as first, room_socket(live.http, rid, host) as second:
        with room_socket(live.http, rid, host) as third:
            closed_with(first, 4429, "too_many_sockets")
            still_open(second)
            still_open(third)
            with room_socket(live.http, rid, other) as others:  # caps are per account
                still_open(others)
        with account_socket(live.http, host) as one, account_socket(live.http, host) as two:
            closed_with(one, 4429, "too_many_sockets")
            still_open(two)
            still_open(second)  # account sockets count apart from room sockets


@pytest.fixture
def two_nodes(settings: Settings, redis_url: str) -> Iterator[tuple[TestClient, TestClient]]:
    """Two API nodes on one database and one Redis, each on an event loop of its own."""
    settings.redis_url = redis_url
    one, two = create_app(settings), create_app(settings)
    with TestClient(one) as node_one, TestClient(two) as node_two:
        yield node_one, node_two


def test_sessions_and_caps_hold_across_nodes(two_nodes: tuple[TestClient, TestClient]) -> None:
    node_one, node_two = two_nodes
    host, guest = node_one.portal.call(make_members, node_one.app.state.db, 2)  # type: ignore[union-attr,attr-defined]
    created = node_one.post("/api/v1/rooms", json={"title": "Nodes"}, headers=host.headers)
    rid = created.json()["id"]
    with (
        room_socket(node_one, rid, guest) as on_one,
        account_socket(node_one, guest) as account_on_one,
    ):
        # Signed out through the other node: the socket here closes all the same.
        assert node_two.post("/api/v1/auth/logout", headers=guest.headers).status_code == 204
        closed_with(on_one, 4401, "session_ended")
        closed_with(account_on_one, 4401, "session_ended")
    node_one.app.state.sockets.caps["room"] = 2  # type: ignore[attr-defined]
    node_two.app.state.sockets.caps["room"] = 2  # type: ignore[attr-defined]
    with (
        room_socket(node_one, rid, host) as oldest,
        room_socket(node_two, rid, host) as middle,
        room_socket(node_two, rid, host) as newest,
    ):
        # The count is the account's over both nodes: the oldest, on the other node, goes.
        closed_with(oldest, 4429, "too_many_sockets")
        still_open(middle)
        still_open(newest)


def test_the_sweep_closes_sockets_whose_session_ended_without_an_event(live: Live) -> None:
    """A session deleted where no event was published (the CLI without Redis, by hand), or
    past its expiry, closes its sockets at the next sweep."""
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "Sweep"})["id"]
    sockets = live.app.state.sockets

    async def delete_quietly(db: Database, token: str) -> None:
        async def work(session: AsyncSession) -> None:
            await accounts_repo.delete_auth_session(session, hash_token(token))

        await in_transaction(db, work)

    with room_socket(live.http, rid, guest) as quiet, room_socket(live.http, rid, host) as kept:
        live.http.portal.call(delete_quietly, live.app.state.db, guest.token)  # type: ignore[union-attr]
        assert live.http.portal.call(sockets.sweep) == 1  # type: ignore[union-attr]
        closed_with(quiet, 4401, "session_ended")
        still_open(kept)
        # The sessions of make_members last a day: a day later the sweep ends the host's too.
        live.app.state.clock.advance(24 * 3600 + 1)
        assert live.http.portal.call(sockets.sweep) == 1  # type: ignore[union-attr]
        closed_with(kept, 4401, "session_ended")


async def test_the_registry_leaves_no_subscription_behind() -> None:
    """A socket released before its account's watcher ever ran still unsubscribes it (a
    cancelled task that never started cannot close what it would have)."""
    bus = MemoryEventBus()
    registry = SocketRegistry(bus, None, {"room": 2, "account": 1})
    socket = await registry.open("u1", "s1", "room")
    await registry.release(socket)
    assert bus.fanout.count(user_channel("u1")) == 0
    first, second = await registry.open("u2", "s2", "room"), await registry.open("u2", "s3", "room")
    await asyncio.sleep(0)  # the watcher runs
    await registry.release(first)
    assert bus.fanout.count(user_channel("u2")) == 1  # still followed for the other socket
    await registry.release(second)
    await asyncio.sleep(0)
    assert bus.fanout.count(user_channel("u2")) == 0
    await registry.stop()
