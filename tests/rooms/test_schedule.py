"""Scheduled rooms: limits, RSVPs, starting live, reminders exactly once, lapsing, the .ics file."""

from __future__ import annotations

import datetime as dt

import icalendar
from fastapi import FastAPI
from httpx import AsyncClient

from conftest import Clock
from mitalk.core.database import Database
from mitalk.core.settings import Settings
from mitalk.rooms import schedule
from rooms.kit import call, fails, fetch, make_members, ok, open_room
from search.kit import follow, set_profile


def at(clock: Clock, **delta: float) -> str:
    return (clock() + dt.timedelta(**delta)).isoformat()


async def notices(client: AsyncClient, person) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return (await ok(client, person, "GET", "/notifications"))["notifications"]  # type: ignore[no-any-return]


async def test_a_scheduled_room_waits_for_its_host(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host, title="Office hours", starts_at=at(clock, hours=2))
    assert (room["status"], room["participants"], room["started_at"]) == ("scheduled", [], None)
    assert dt.datetime.fromisoformat(room["starts_at"]) > clock()
    assert (await ok(client, guest, "GET", "/rooms"))["rooms"] == []  # not live
    await fails(client, guest, "POST", f"/rooms/{room['id']}/join", 409, "room_not_started")
    await fails(client, host, "POST", f"/rooms/{room['id']}/hand", 409, "room_not_started")
    await fails(client, guest, "POST", f"/rooms/{room['id']}/start", 403, "not_the_host")

    started = await ok(client, host, "POST", f"/rooms/{room['id']}/start")
    assert started["status"] == "live" and started["started_at"]
    assert [(p["user_id"], p["role"]) for p in started["participants"]] == [(host.id, "moderator")]
    assert started["seq"] == 2  # room.created and the host joining, as for a room opened now
    assert [r["id"] for r in (await ok(client, guest, "GET", "/rooms"))["rooms"]] == [room["id"]]
    await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
    await fails(client, host, "POST", f"/rooms/{room['id']}/start", 409, "room_not_scheduled")
    events = await ok(client, guest, "GET", f"/rooms/{room['id']}/events?after=0")
    assert [e["type"] for e in events["events"]][:2] == ["room.created", "room.participant_joined"]


async def test_start_times_and_limits_have_numbers(
    client: AsyncClient, db: Database, clock: Clock, settings: Settings
) -> None:
    (host,) = await make_members(db, 1)
    for starts_at in (
        at(clock, minutes=-5),
        at(clock, seconds=10),
        at(clock, days=91),
        "2030-01-01T10:00:00",
    ):
        response = await call(
            client, host, "POST", "/rooms", {"title": "Later", "starts_at": starts_at}
        )
        assert response.status_code == 422, (starts_at, response.text)
        assert response.json()["error"]["code"] in ("invalid_start_time", "invalid_request")
    await open_room(client, host, title="Far", starts_at=at(clock, days=89))
    for n in range(settings.room_max_scheduled_per_host - 1):
        await open_room(client, host, title=f"Later {n}", starts_at=at(clock, days=1, minutes=n))
    await fails(client, host, "POST", "/rooms", 409, "too_many_scheduled_rooms",
                {"title": "One too many", "starts_at": at(clock, days=2)})
    # starting counts against the live-room limit like opening one
    for n in range(settings.room_max_live_per_host):
        await open_room(client, host, title=f"Live {n}")
    scheduled = (await ok(client, host, "GET", "/hallway"))["upcoming"]
    await fails(
        client, host, "POST", f"/rooms/{scheduled[0]['id']}/start", 409, "too_many_live_rooms"
    )


async def test_rsvps_counts_and_who_may_rsvp(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    host, a, b, outsider = await make_members(db, 4)
    room = await open_room(client, host, title="Demo day", starts_at=at(clock, days=1))
    closed = await open_room(
        client, host, title="Board", visibility="closed", starts_at=at(clock, days=1)
    )
    assert await ok(client, a, "POST", f"/rooms/{room['id']}/rsvp") == {
        "room_id": room["id"],
        "rsvped": True,
        "rsvp_count": 1,
    }
    assert (await ok(client, a, "POST", f"/rooms/{room['id']}/rsvp"))[
        "rsvp_count"
    ] == 1  # twice is once
    assert (await ok(client, b, "POST", f"/rooms/{room['id']}/rsvp"))["rsvp_count"] == 2
    seen = await fetch(client, a, room["id"])
    assert (seen["rsvp_count"], seen["rsvped"]) == (2, True)
    seen = await fetch(client, outsider, room["id"])
    assert (seen["rsvp_count"], seen["rsvped"]) == (2, False)
    assert (await ok(client, b, "DELETE", f"/rooms/{room['id']}/rsvp"))["rsvp_count"] == 1
    await fails(client, outsider, "POST", f"/rooms/{closed['id']}/rsvp", 403, "not_invited")
    live = await open_room(client, host, title="Now")
    await fails(client, a, "POST", f"/rooms/{live['id']}/rsvp", 409, "room_not_scheduled")
    await fails(client, a, "POST", "/rooms/nope/rsvp", 404, "room_not_found")


async def test_reminders_are_written_once_and_the_start_tells_rsvps_and_followers(
    client: AsyncClient, db: Database, clock: Clock, settings: Settings, app: FastAPI
) -> None:
    host, fan, follower, both, stranger = await make_members(db, 5)
    await set_profile(db, host, name="Hedda Host")
    room = await open_room(client, host, title="Launch AMA", starts_at=at(clock, minutes=30))
    for person in (fan, both):
        await ok(client, person, "POST", f"/rooms/{room['id']}/rsvp")
    for person in (follower, both):
        await follow(db, person, host)

    assert (
        await schedule.run_once(db, settings, app.state.bus, clock()) == 0
    )  # 30 min ahead: not yet
    clock.advance(21 * 60)  # 9 minutes before
    assert await schedule.run_once(db, settings, app.state.bus, clock()) == 1
    assert await schedule.run_once(db, settings, app.state.bus, clock()) == 0
    for person in (fan, both):
        kinds = [n["kind"] for n in await notices(client, person)]
        assert kinds == ["room_reminder"], kinds
        assert (await notices(client, person))[0]["data"] == {"room_id": room["id"]}
        assert (await notices(client, person))[0]["body"] == "Launch AMA starts in 9 min"
    assert await notices(client, follower) == [] and await notices(client, stranger) == []

    await ok(client, host, "POST", f"/rooms/{room['id']}/start")
    assert [n["kind"] for n in await notices(client, fan)] == ["room_starting", "room_reminder"]
    assert [n["kind"] for n in await notices(client, follower)] == ["room_started"]
    started = (await notices(client, follower))[0]
    assert started["body"] == "Hedda Host started a room: Launch AMA"
    assert started["data"] == {"room_id": room["id"], "user_id": host.id}
    assert sorted(n["kind"] for n in await notices(client, both)) == [
        "room_reminder",
        "room_started",
        "room_starting",
    ]
    assert await notices(client, stranger) == [] and await notices(client, host) == []
    assert (await ok(client, fan, "GET", "/notifications"))["unread"] == 2


async def test_rooms_never_started_lapse(
    client: AsyncClient, db: Database, clock: Clock, settings: Settings, app: FastAPI
) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host, title="Forgotten", starts_at=at(clock, hours=1))
    kept = await open_room(client, host, title="Tomorrow", starts_at=at(clock, days=1))
    clock.advance(3600 + settings.room_schedule_lapse_hours * 3600 - 60)
    await schedule.run_once(db, settings, app.state.bus, clock())
    assert (await fetch(client, host, room["id"]))["status"] == "scheduled"  # a minute to go
    clock.advance(120)
    await schedule.run_once(db, settings, app.state.bus, clock())
    lapsed = await fetch(client, host, room["id"])
    assert lapsed["status"] == "ended" and lapsed["ended_at"]
    assert (await fetch(client, host, kept["id"]))["status"] == "scheduled"
    await fails(client, host, "POST", f"/rooms/{room['id']}/start", 409, "room_ended")
    await fails(client, guest, "POST", f"/rooms/{room['id']}/rsvp", 409, "room_not_scheduled")
    log = await ok(client, host, "GET", f"/rooms/{room['id']}/moderation")
    assert [(e["action"], e["actor_id"]) for e in log["entries"]] == [("lapse", None)]
    assert [r["id"] for r in (await ok(client, guest, "GET", "/hallway"))["upcoming"]] == [
        kept["id"]
    ]


async def test_the_host_cancels_a_scheduled_room(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host, title="Maybe", starts_at=at(clock, days=2))
    await fails(client, guest, "POST", f"/rooms/{room['id']}/end", 403, "not_the_host")
    await ok(client, host, "POST", f"/rooms/{room['id']}/end")
    assert (await fetch(client, guest, room["id"]))["status"] == "ended"
    assert (await ok(client, guest, "GET", "/hallway"))["upcoming"] == []


async def test_the_calendar_file_is_rfc_5545(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    host, guest, outsider = await make_members(db, 3)
    title = (
        "Quarterly planning for the payments platform team, with guests from risk and compliance"
    )
    starts = (
        (clock() + dt.timedelta(days=3))
        .replace(microsecond=0)
        .astimezone(dt.timezone(dt.timedelta(hours=2)))
    )
    room = await open_room(
        client, host, title=title, topics=["payments"], starts_at=starts.isoformat()
    )
    response = await call(client, guest, "GET", f"/rooms/{room['id']}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    raw = response.content
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 75 for line in lines)  # folded
    assert any(line.startswith(b" ") for line in lines)  # the long title was folded
    unfolded = raw.replace(b"\r\n ", b"").decode()
    assert "SUMMARY:" + title.replace(",", "\\,") in unfolded  # TEXT escapes commas
    assert f"UID:room-{room['id']}@mitalk" in unfolded
    utc = starts.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{utc}" in unfolded  # in UTC, whatever zone it was given in
    assert "DTSTAMP:" in unfolded and f"URL:http://mitalk.test/#/room/{room['id']}" in unfolded
    event = icalendar.Calendar.from_ical(raw).walk("VEVENT")[0]
    assert event.decoded("dtstart") == starts.astimezone(dt.UTC)
    assert str(event["summary"]) == title
    closed = await open_room(
        client, host, title="Closed", visibility="closed", starts_at=starts.isoformat()
    )
    await fails(client, outsider, "GET", f"/rooms/{closed['id']}/calendar.ics", 403, "not_invited")


async def test_a_scheduled_rooms_media_says_it_has_not_started(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host, title="Later", starts_at=at(clock, hours=1))
    for person in (host, guest):
        await fails(
            client, person, "POST", f"/rooms/{room['id']}/media/listen", 409, "room_not_started"
        )
        await fails(
            client,
            person,
            "POST",
            f"/rooms/{room['id']}/media/offer",
            409,
            "room_not_started",
            {"type": "offer", "sdp": "v=0"},
        )
        await fails(
            client,
            person,
            "POST",
            f"/rooms/{room['id']}/media/answer",
            409,
            "room_not_started",
            {"type": "answer", "sdp": "v=0"},
        )
    await ok(client, host, "POST", f"/rooms/{room['id']}/end")  # cancelled: now it has ended
    await fails(client, guest, "POST", f"/rooms/{room['id']}/media/listen", 409, "room_ended")
