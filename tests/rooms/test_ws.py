"""The room WebSocket: snapshot, ordered events, resume, resync, actions, refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.testclient import TestClient

from conftest import Clock
from mitalk.app import create_app
from mitalk.core.settings import Settings
from mitalk.realtime.bus import RedisEventBus
from mitalk.realtime.events import Recipients
from mitalk.rooms.events import ActiveSpeaker, HandRaised, room_event_adapter
from realtime.conftest import Closed, Live, nothing_more, receive
from rooms.kit import early_in_a_minute


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_snapshot_then_ordered_events(live: Live) -> None:
    host, guest = live.members(2)
    room = live.ok(host, "POST", "/rooms", {"title": "Hiring"})
    with live.socket(room["id"], guest) as ws:  # the browser way: ?token=
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == 2
        assert snapshot["room"]["participants"] == room["participants"]
        live.ok(guest, "POST", f"/rooms/{room['id']}/join")
        live.ok(guest, "POST", f"/rooms/{room['id']}/hand")
        live.ok(host, "POST", f"/rooms/{room['id']}/speakers", {"user_id": guest.id})
        events = [receive(ws) for _ in range(3)]
    assert [(e["type"], e["seq"]) for e in events] == [
        ("room.participant_joined", 3), ("room.hand_raised", 4), ("room.role_changed", 5)
    ]
    for event in events:
        room_event_adapter.validate_python(event)  # every message matches its schema
    assert events[2]["role"] == "speaker" and events[2]["by"] == host.id


def test_the_authorization_header_works_too(live: Live) -> None:
    (host,) = live.members(1)
    room = live.ok(host, "POST", "/rooms", {"title": "Hiring"})
    with live.socket(room["id"], host, header=True) as ws:
        assert receive(ws)["type"] == "snapshot"


@pytest.mark.parametrize(
    ("who", "room_kind", "code", "close"),
    [
        ("anonymous", "open", "not_authenticated", 4401),
        ("stranger", "closed", "not_invited", 4403),
        ("stranger", "missing", "room_not_found", 4404),
    ],
)
def test_refused_connections_say_why(
    live: Live, who: str, room_kind: str, code: str, close: int
) -> None:
    host, stranger = live.members(2)
    room_id = "nope"
    if room_kind != "missing":
        room_id = live.ok(host, "POST", "/rooms", {"title": "t", "visibility": room_kind})["id"]
    with live.socket(room_id, None if who == "anonymous" else stranger) as ws:
        message = receive(ws)
        assert (message["type"], message["error"]["code"]) == ("error", code)
        with pytest.raises(Closed) as closed:
            receive(ws)
    assert closed.value.code == close


def test_a_reconnecting_client_gets_what_it_missed(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
    live.ok(guest, "POST", f"/rooms/{rid}/join")
    live.ok(guest, "POST", f"/rooms/{rid}/hand")
    live.ok(guest, "DELETE", f"/rooms/{rid}/hand")
    with live.socket(rid, guest, query=f"after={seq}") as ws:
        assert receive(ws) == {"type": "resumed", "after": seq, "seq": seq + 3}
        missed = [receive(ws) for _ in range(3)]
        assert [e["seq"] for e in missed] == [seq + 1, seq + 2, seq + 3]
        assert [e["type"] for e in missed] == [
            "room.participant_joined", "room.hand_raised", "room.hand_lowered"
        ]
        live.ok(guest, "POST", f"/rooms/{rid}/hand")  # then live events continue
        assert (receive(ws)["type"], ) == ("room.hand_raised",)


def test_a_gap_older_than_the_buffer_gets_resync_and_a_snapshot(live: Live) -> None:
    live.bus.buffer_size = 2
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    live.ok(guest, "POST", f"/rooms/{rid}/join")
    live.ok(guest, "POST", f"/rooms/{rid}/hand")
    live.ok(guest, "DELETE", f"/rooms/{rid}/hand")  # seq 5; the buffer holds 4 and 5
    with live.socket(rid, guest, query="after=3") as ws:
        assert receive(ws)["type"] == "resumed"
        assert [receive(ws)["seq"] for _ in range(2)] == [4, 5]
    with live.socket(rid, guest, query="after=2") as ws:
        assert receive(ws) == {"type": "resync", "reason": "gap_too_old"}
        snapshot = receive(ws)
        assert (snapshot["type"], snapshot["seq"]) == ("snapshot", 5)
        assert len(snapshot["room"]["participants"]) == 2
    with live.socket(rid, guest, query="after=9") as ws:
        assert receive(ws) == {"type": "resync", "reason": "ahead_of_room"}
        assert receive(ws)["seq"] == 5


def test_events_published_out_of_order_are_delivered_in_order(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
        live.publish(HandRaised(room_id=rid, seq=seq + 2, at=now(), user_id="b"))
        nothing_more(ws, 0.1)  # held back: seq + 1 has not come yet
        live.publish(HandRaised(room_id=rid, seq=seq + 1, at=now(), user_id="a"))
        assert [(m["seq"], m["user_id"]) for m in (receive(ws), receive(ws))] == [
            (seq + 1, "a"), (seq + 2, "b")
        ]
        live.publish(HandRaised(room_id=rid, seq=seq + 1, at=now(), user_id="a"))
        nothing_more(ws)  # a duplicate is dropped


def test_an_event_lost_between_commit_and_publish_leads_to_resync(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
        # seq + 1 never arrives (say the process died after its commit)
        live.publish(HandRaised(room_id=rid, seq=seq + 2, at=now(), user_id="x"))
        assert receive(ws, 3) == {"type": "resync", "reason": "missing_event"}
        snapshot = receive(ws)
        assert snapshot["type"] == "snapshot" and snapshot["seq"] == seq
        live.ok(guest, "POST", f"/rooms/{rid}/join")  # and the stream goes on
        assert receive(ws)["seq"] == seq + 1


def test_a_client_that_falls_behind_gets_resync(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        receive(ws)
        for subscription in list(live.bus.fanout._by_channel[rid]):
            subscription.mark_overflowed()
        assert receive(ws) == {"type": "resync", "reason": "fell_behind"}
        assert receive(ws)["type"] == "snapshot"
        live.ok(guest, "POST", f"/rooms/{rid}/join")
        assert receive(ws)["type"] == "room.participant_joined"


def test_events_go_only_to_their_recipients_and_ephemeral_ones_pass_straight_through(
    live: Live,
) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
        live.publish(
            HandRaised(room_id=rid, seq=seq + 1, at=now(), user_id="a",
                       recipients=Recipients(scope="users", user_ids=["someone-else"]))
        )
        live.publish(ActiveSpeaker(room_id=rid, at=now(), user_id=host.id))
        live.publish(HandRaised(room_id=rid, seq=seq + 2, at=now(), user_id="b"))
        first, second = receive(ws), receive(ws)
        assert (first["type"], first["seq"], first["user_id"]) == (
            "room.active_speaker",
            None,
            host.id,
        )
        assert (second["seq"], second["user_id"]) == (seq + 2, "b")  # seq + 1 was not for us
        nothing_more(ws)
    assert all(
        e.type != "room.active_speaker" for e in live.http.portal.call(live.bus.history, rid, 0)
    )  # type: ignore[union-attr]


def test_actions_over_the_socket(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    live.ok(guest, "POST", f"/rooms/{rid}/join")
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
        ws.send_json({"type": "ping", "ref": "p1"})
        assert receive(ws) == {"type": "pong", "ref": "p1"}
        ws.send_json({"type": "raise_hand", "ref": "h1"})
        got = sorted((receive(ws), receive(ws)), key=lambda m: m["type"])
        assert (
            got[0]["type"] == "ack"
            and got[0]["ref"] == "h1"
            and got[0]["participant"]["hand_raised"] is True
        )
        assert (got[1]["type"], got[1]["seq"], got[1]["user_id"]) == (
            "room.hand_raised",
            seq + 1,
            guest.id,
        )
        ws.send_json({"type": "unmute", "ref": "u1"})
        error = receive(ws)
        assert (error["type"], error["ref"], error["error"]["code"]) == (
            "error",
            "u1",
            "listeners_cannot_unmute",
        )
        ws.send_json({"type": "shout"})
        assert receive(ws)["error"]["code"] == "invalid_message"
        ws.send_text("not json")
        assert receive(ws)["error"]["code"] == "invalid_message"
        # signing out closes the socket at once (tests/realtime/test_socket_sessions.py)
        assert live.http.post("/api/v1/auth/logout", headers=guest.headers).status_code == 204
        assert receive(ws)["error"]["code"] == "session_ended"
        with pytest.raises(Closed) as closed:
            receive(ws)
        assert closed.value.code == 4401
    assert live.ok(host, "GET", f"/rooms/{rid}")["participants"][1]["hand_raised"] is True


def test_leaving_over_the_socket(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    live.ok(guest, "POST", f"/rooms/{rid}/join")
    with live.socket(rid, guest) as ws:
        receive(ws)
        ws.send_json({"type": "leave", "ref": "bye"})
        types = sorted(m["type"] for m in (receive(ws), receive(ws)))
        assert types == ["ack", "room.participant_left"]
    assert len(live.ok(host, "GET", f"/rooms/{rid}")["participants"]) == 1


def test_socket_actions_share_the_room_action_allowance(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    early_in_a_minute()
    live.ok(guest, "POST", f"/rooms/{rid}/join")  # 1 of 30
    for n in range(29):
        live.ok(guest, "POST" if n % 2 == 0 else "DELETE", f"/rooms/{rid}/hand")
    with live.socket(rid, guest) as ws:
        seq = receive(ws)["seq"]
        ws.send_json({"type": "lower_hand", "ref": "h"})
        error = receive(ws)
        assert (error["type"], error["ref"], error["error"]["code"]) == (
            "error", "h", "rate_limited"
        )
        assert "30 a minute" in error["error"]["message"]
        nothing_more(ws)  # refused: nothing reached the room
        # leaving is never refused
        ws.send_json({"type": "leave", "ref": "bye"})
        types = sorted(m["type"] for m in (receive(ws), receive(ws)))
        assert types == ["ack", "room.participant_left"]
    room = live.ok(host, "GET", f"/rooms/{rid}")
    assert room["seq"] == seq + 1 and len(room["participants"]) == 1


def test_a_removed_person_is_told_and_disconnected(live: Live) -> None:
    host, troll, other = live.members(3)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    for person in (troll, other):
        live.ok(person, "POST", f"/rooms/{rid}/join")
    with live.socket(rid, troll) as troll_ws, live.socket(rid, other) as other_ws:
        receive(troll_ws), receive(other_ws)
        live.ok(host, "POST", f"/rooms/{rid}/remove", {"user_id": troll.id})
        assert receive(troll_ws)["type"] == "room.removed"
        with pytest.raises(Closed) as closed:
            receive(troll_ws)
        assert (closed.value.code, closed.value.reason) == (4403, "removed_from_room")
        assert receive(other_ws)["user_id"] == troll.id
        live.ok(host, "POST", f"/rooms/{rid}/mute", {"user_id": host.id})
        assert receive(other_ws)["type"] == "room.muted"  # the others stay connected
    with live.socket(rid, troll) as ws:
        assert receive(ws)["error"]["code"] == "removed_from_room"


def test_the_end_of_a_room_closes_every_socket(live: Live) -> None:
    host, guest = live.members(2)
    rid = live.ok(host, "POST", "/rooms", {"title": "t"})["id"]
    with live.socket(rid, guest) as ws:
        receive(ws)
        live.ok(host, "POST", f"/rooms/{rid}/end")
        ended = receive(ws)
        assert (ended["type"], ended["reason"], ended["by"]) == (
            "room.ended",
            "ended_by_moderator",
            host.id,
        )
        with pytest.raises(Closed) as closed:
            receive(ws)
        assert closed.value.code == 1000
    with live.socket(rid, guest) as ws:  # an ended room: its final state, then goodbye
        snapshot = receive(ws)
        assert snapshot["room"]["status"] == "ended" and snapshot["room"]["participants"] == []
        with pytest.raises(Closed):
            receive(ws)


def test_two_nodes_share_the_stream_through_redis(
    settings: Settings, clock: Clock, redis_url: str
) -> None:
    """An action on one API node reaches a socket on another; a resume there replays from Redis."""
    settings.redis_url = redis_url
    node_a, node_b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    with TestClient(node_a) as http_a, TestClient(node_b) as http_b:
        a, b = Live(node_a, http_a), Live(node_b, http_b)
        assert isinstance(a.bus, RedisEventBus) and isinstance(b.bus, RedisEventBus)
        host, guest = a.members(2)
        rid = a.ok(host, "POST", "/rooms", {"title": "t"})["id"]
        with b.socket(rid, guest) as ws:
            assert receive(ws)["seq"] == 2
            a.ok(guest, "POST", f"/rooms/{rid}/join")
            a.ok(guest, "POST", f"/rooms/{rid}/hand")
            assert [receive(ws)["seq"] for _ in range(2)] == [3, 4]
        a.ok(guest, "DELETE", f"/rooms/{rid}/hand")
        with b.socket(rid, guest, query="after=2") as ws:
            assert receive(ws)["type"] == "resumed"
            assert [receive(ws)["type"] for _ in range(3)] == [
                "room.participant_joined", "room.hand_raised", "room.hand_lowered"
            ]
        assert (
            b.ok(guest, "GET", f"/rooms/{rid}/events?after=4")["events"][0]["type"]
            == "room.hand_lowered"
        )
