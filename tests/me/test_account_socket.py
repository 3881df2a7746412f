"""The account socket (GET /api/v1/me/ws): hello, place in line, admission, hallway, notices."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import WebSocketTestSession

from factories import Person, in_transaction, last_code, new_phone, set_phase
from mitalk.access import claims
from mitalk.access import repository as access_repo
from mitalk.access import service as access
from mitalk.access.drops import run_drop
from mitalk.core.database import utcnow
from mitalk.notifications.events import notification_event
from mitalk.notifications.schemas import NotificationOut
from mitalk.realtime.events import user_channel
from realtime.conftest import Closed, Live, receive


def next_of(ws: WebSocketTestSession, kind: str, timeout: float = 6.0) -> dict[str, Any]:
    """The next message of one type (others, e.g. hallway hints, are skipped), within a bound."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while True:
        left = (deadline - dt.datetime.now()).total_seconds()
        if left <= 0:
            raise AssertionError(f"no {kind} message within {timeout} s")
        message = receive(ws, left)
        if message["type"] == kind:
            return message


def sign_in(live: Live, outbox: Path) -> Person:
    phone = new_phone()
    assert live.http.post("/api/v1/auth/code", json={"phone": phone}).status_code == 202
    body = live.http.post(
        "/api/v1/auth/verify", json={"phone": phone, "code": last_code(outbox, phone)}
    ).json()
    return Person(phone, body["token"], body["account"])


def account_socket(live: Live, person: Person) -> WebSocketTestSession:
    return live.http.websocket_connect(f"/api/v1/me/ws?token={person.token}")


def test_waitlisters_see_their_place_move_and_are_told_when_let_in(
    live: Live, outbox: Path
) -> None:
    portal = live.http.portal
    db, settings = live.app.state.db, live.app.state.settings
    portal.call(set_phase, db, "invite")  # type: ignore[union-attr]
    first, second = sign_in(live, outbox), sign_in(live, outbox)
    assert second.account["status"] == "waitlisted"
    with account_socket(live, second) as ws:
        hello = receive(ws)
        assert hello["type"] == "hello" and hello["account"]["waitlist"]["position"] == 2
        portal.call(run_drop, db, settings, 1)  # type: ignore[union-attr]  # the operator, as the CLI does
        moved = next_of(ws, "waitlist.position")
        assert moved["position"] == 1
        portal.call(run_drop, db, settings, 1)  # type: ignore[union-attr]
        admitted = next_of(ws, "account.changed")
        assert admitted["account"]["status"] == "active" and admitted["account"]["waitlist"] is None
    assert first.account["status"] == "waitlisted"


def test_every_waitlister_here_hears_their_own_place_when_one_is_let_in_out_of_order(
    live: Live, outbox: Path
) -> None:
    """The node works out all its waitlisters' places at once: after a claim lets the second
    of four in, the first keeps place 1 of fewer, the third and fourth move up, the second is
    let in."""
    portal = live.http.portal
    db, settings = live.app.state.db, live.app.state.settings
    portal.call(set_phase, db, "invite")  # type: ignore[union-attr]
    people = [sign_in(live, outbox) for _ in range(4)]
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(account_socket(live, p)) for p in people]
        hellos = [receive(ws) for ws in sockets]
        assert [h["account"]["waitlist"] for h in hellos] == [
            {"position": i + 1, "total": 4} for i in range(4)
        ]
        window = portal.call(  # type: ignore[union-attr]
            in_transaction, db, lambda s: access.open_window(s, 1, utcnow())
        )
        portal.call(  # type: ignore[union-attr]  # what the claim desk's grant writer does
            claims.apply_grants, db, settings, window.id, [people[1].account["id"]], utcnow(),
            True,
        )
        admitted = next_of(sockets[1], "account.changed")["account"]
        assert admitted["status"] == "active" and admitted["waitlist"] is None
        assert admitted["id"] == people[1].account["id"] and admitted["invites_left"] >= 0
        for ws, place in ((sockets[0], 1), (sockets[2], 2), (sockets[3], 3)):
            moved = next_of(ws, "waitlist.position")
            assert (moved["position"], moved["total"]) == (place, 3)


def test_a_place_is_never_counted_against_a_total_read_before_someone_was_let_in(
    live: Live, outbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node reads the line's totals, then its head and who was let in: no snapshot holds
    them together. Someone let in between those reads (forced here: the grant commits just as
    the head is read) must not show "2 of 4" where three are left: each waitlister's first
    message after is their true place."""
    portal = live.http.portal
    db, settings = live.app.state.db, live.app.state.settings
    portal.call(set_phase, db, "invite")  # type: ignore[union-attr]
    people = [sign_in(live, outbox) for _ in range(4)]
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(account_socket(live, p)) for p in people]
        assert [receive(ws)["account"]["waitlist"]["position"] for ws in sockets] == [1, 2, 3, 4]
        window = portal.call(  # type: ignore[union-attr]
            in_transaction, db, lambda s: access.open_window(s, 1, utcnow())
        )
        real_head = access_repo.waiting_head
        raced = []

        async def head_after_a_grant(session: Any) -> Any:
            if not raced:  # once: the grant lands between the totals and the head
                raced.append(True)
                await claims.apply_grants(
                    db, settings, window.id, [people[1].account["id"]], utcnow(), True
                )
            return await real_head(session)

        monkeypatch.setattr(access_repo, "waiting_head", head_after_a_grant)
        admitted = next_of(sockets[1], "account.changed")["account"]
        assert admitted["status"] == "active" and raced
        for ws, place in ((sockets[0], 1), (sockets[2], 2), (sockets[3], 3)):
            moved = next_of(ws, "waitlist.position")
            assert (moved["position"], moved["total"]) == (place, 3)


def test_the_hello_lets_in_a_waitlister_the_rules_now_admit(live: Live, outbox: Path) -> None:
    """The hello reads without writing while the rules keep a waitlister waiting; once they let
    them in (here: the open phase), connecting admits them as signing in does."""
    portal = live.http.portal
    db = live.app.state.db
    portal.call(set_phase, db, "invite")  # type: ignore[union-attr]
    waiting, later = sign_in(live, outbox), sign_in(live, outbox)
    with account_socket(live, waiting) as ws:
        hello = receive(ws)["account"]
        assert hello["status"] == "waitlisted" and hello["is_staff"] is False
        assert hello["waitlist"] == {"position": 1, "total": 2}
    portal.call(set_phase, db, "open")  # type: ignore[union-attr]
    with account_socket(live, later) as ws:
        hello = receive(ws)["account"]
        assert hello["status"] == "active" and hello["waitlist"] is None
    me = live.http.get("/api/v1/me", headers={"Authorization": f"Bearer {later.token}"}).json()
    assert me["status"] == "active"


def test_waitlisters_hear_when_a_claim_window_opens(live: Live, outbox: Path) -> None:
    portal = live.http.portal
    portal.call(set_phase, live.app.state.db, "invite")  # type: ignore[union-attr]
    person = sign_in(live, outbox)
    with account_socket(live, person) as ws:
        assert receive(ws)["type"] == "hello"
        portal.call(in_transaction, live.app.state.db, lambda s: access.open_window(s, 3, utcnow()))  # type: ignore[union-attr]
        window = next_of(ws, "waitlist.window")["window"]
        assert window["state"] == "open" and window["total"] == 3


def test_members_are_told_the_hallway_changed(live: Live) -> None:
    host, watcher = live.members(2)
    with account_socket(live, watcher) as ws:
        assert receive(ws)["type"] == "hello"
        live.ok(host, "POST", "/rooms", {"title": "New room"})
        assert next_of(ws, "hallway.changed") == {"type": "hallway.changed"}


def test_a_follow_and_an_unfollow_tell_the_followed_person_once(live: Live) -> None:
    fan, star = live.members(2)
    with account_socket(live, star) as ws:
        assert receive(ws)["type"] == "hello"
        live.ok(fan, "POST", f"/users/{star.id}/follow")
        assert next_of(ws, "network.changed") == {"type": "network.changed"}
        live.ok(fan, "POST", f"/users/{star.id}/follow")  # twice is once: nobody is told
        live.ok(fan, "DELETE", f"/users/{star.id}/follow")
        assert next_of(ws, "network.changed") == {"type": "network.changed"}
        live.ok(fan, "DELETE", f"/users/{star.id}/follow")  # not following: nobody is told
        with pytest.raises((TimeoutError, AssertionError)):
            next_of(ws, "network.changed", timeout=0.5)


def test_notifications_arrive_on_their_owners_socket_only(live: Live) -> None:
    owner, other = live.members(2)
    with account_socket(live, owner) as mine, account_socket(live, other) as theirs:
        assert receive(mine)["type"] == "hello" and receive(theirs)["type"] == "hello"
        notice = NotificationOut(
            id=7, kind="test", body="Hello there", created_at=utcnow(), read=False
        )
        live.publish(notification_event(owner.id, notice, unread=3))
        message = next_of(mine, "notification.new")
        assert message["unread"] == 3 and message["notification"]["body"] == "Hello there"
        with pytest.raises((TimeoutError, AssertionError)):
            next_of(theirs, "notification.new", timeout=0.5)
    assert user_channel(owner.id) != user_channel(other.id)


def test_ping_is_answered_and_strangers_are_refused(live: Live) -> None:
    (person,) = live.members(1)
    with account_socket(live, person) as ws:
        assert receive(ws)["type"] == "hello"
        ws.send_json({"type": "ping"})
        assert next_of(ws, "pong") == {"type": "pong"}
    with live.http.websocket_connect("/api/v1/me/ws?token=forged") as ws:
        assert receive(ws)["error"]["code"] == "not_authenticated"
        with pytest.raises(Closed) as closed:
            receive(ws)
        assert closed.value.code == 4401
