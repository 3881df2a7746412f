"""Notifications written by the services reach their owner's account socket, once."""

from __future__ import annotations

import pytest

from me.test_account_socket import account_socket, next_of
from mitalk.core.database import unit_of_work, utcnow
from mitalk.notifications.service import notify
from realtime.conftest import Live, receive
from search.kit import follow


def test_a_followed_host_starting_a_room_and_a_stage_call_arrive_live(live: Live) -> None:
    host, fan = live.members(2)
    live.http.portal.call(follow, live.app.state.db, fan, host)  # type: ignore[union-attr]
    with account_socket(live, fan) as ws:
        assert receive(ws)["type"] == "hello"
        room = live.ok(host, "POST", "/rooms", {"title": "Live AMA"})
        started = next_of(ws, "notification.new")
        assert started["notification"]["kind"] == "room_started" and started["unread"] == 1
        assert started["notification"]["data"] == {"room_id": room["id"], "user_id": host.id}
        live.ok(fan, "POST", f"/rooms/{room['id']}/join")
        live.ok(host, "POST", f"/rooms/{room['id']}/speakers", {"user_id": fan.id})
        on_stage = next_of(ws, "notification.new")
        assert on_stage["notification"]["kind"] == "brought_on_stage" and on_stage["unread"] == 2
    listed = live.ok(fan, "GET", "/notifications")
    assert listed["unread"] == 2
    assert [n["kind"] for n in listed["notifications"]] == ["brought_on_stage", "room_started"]


def test_the_same_dedupe_key_is_written_and_delivered_once(live: Live) -> None:
    (person,) = live.members(1)
    db, bus = live.app.state.db, live.app.state.bus

    async def twice() -> list[bool]:
        written = []
        for _ in range(2):
            async with unit_of_work(db) as session:
                notice = await notify(
                    session,
                    bus,
                    person.id,
                    "connection_request",
                    "Ada wants to connect",
                    "connection_request:test",
                    now=utcnow(),
                    data={"user_id": person.id},
                )
                written.append(notice is not None)
        return written

    with account_socket(live, person) as ws:
        assert receive(ws)["type"] == "hello"
        assert live.http.portal.call(twice) == [True, False]  # type: ignore[union-attr]
        assert next_of(ws, "notification.new")["notification"]["body"] == "Ada wants to connect"
        with pytest.raises((TimeoutError, AssertionError)):
            next_of(ws, "notification.new", timeout=0.5)
    assert live.ok(person, "GET", "/notifications")["unread"] == 1


def test_reading_notices_on_one_device_clears_the_bell_on_the_others(live: Live) -> None:
    host, fan = live.members(2)
    live.http.portal.call(follow, live.app.state.db, fan, host)  # type: ignore[union-attr]
    with account_socket(live, fan) as phone, account_socket(live, fan) as laptop:
        assert receive(phone)["type"] == "hello" and receive(laptop)["type"] == "hello"
        live.ok(host, "POST", "/rooms", {"title": "Live AMA"})
        newest = next_of(laptop, "notification.new")["notification"]["id"]
        assert next_of(phone, "notification.new")["unread"] == 1
        live.ok(fan, "POST", "/notifications/read", {"up_to": newest})  # on the phone
        for device in (laptop, phone):
            read = next_of(device, "notification.read")
            assert read == {"type": "notification.read", "up_to": newest, "unread": 0}
    assert live.ok(fan, "GET", "/notifications")["unread"] == 0


def test_a_stranger_marking_reads_tells_nobody_else(live: Live) -> None:
    host, fan, other = live.members(3)
    live.http.portal.call(follow, live.app.state.db, fan, host)  # type: ignore[union-attr]
    with account_socket(live, fan) as ws:
        assert receive(ws)["type"] == "hello"
        live.ok(host, "POST", "/rooms", {"title": "Live AMA"})
        newest = next_of(ws, "notification.new")["notification"]["id"]
        live.ok(other, "POST", "/notifications/read", {"up_to": newest})  # marks nothing of fan
        with pytest.raises((TimeoutError, AssertionError)):
            next_of(ws, "notification.read", timeout=0.5)
    assert live.ok(fan, "GET", "/notifications")["unread"] == 1
