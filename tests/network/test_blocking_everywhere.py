"""A blocked pair is invisible to each other everywhere the issue lists, both ways.

One scenario ties two people together in every way the network knows (follows, a request, a
card, each other's live rooms, an RSVP, a room they met in, notices), then one blocks the
other. A table of checks is then run from each side: every listed place must be empty of the
other person and of the rooms they host. Parametrised by who blocks, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from httpx import AsyncClient

from conftest import Clock
from factories import Person, set_phase, waitlister
from mitalk.core.database import Database
from rooms.kit import call, make_members, ok, open_room


@dataclass
class Side:
    """One of the pair: who they are, their name, and the rooms they host."""

    person: Person
    name: str
    live_room: str
    scheduled_room: str


def ids(items: list[dict[str, Any]], *path: str) -> set[str]:
    out = set()
    for item in items:
        for key in path:
            item = item[key]
        out.add(str(item))
    return out


Check = Callable[[AsyncClient, Side, Side], Awaitable[None]]


async def _status(
    client: AsyncClient, viewer: Side, method: str, path: str, status: int, code: str
) -> None:
    response = await call(client, viewer.person, method, path)
    assert response.status_code == status and response.json()["error"]["code"] == code, (
        f"{method} {path}: {response.status_code} {response.text[:200]}"
    )


async def profile_is_404(client: AsyncClient, viewer: Side, other: Side) -> None:
    await _status(client, viewer, "GET", f"/users/{other.person.id}", 404, "user_not_found")


async def search_people_leaves_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    found = await ok(client, viewer.person, "GET", f"/search/people?q={other.name}")
    assert other.person.id not in ids(found["people"], "id")


async def search_rooms_leaves_their_rooms_out(
    client: AsyncClient, viewer: Side, other: Side
) -> None:
    found = await ok(client, viewer.person, "GET", f"/search/rooms?q={other.name}")
    assert not {other.live_room, other.scheduled_room} & ids(found["rooms"], "id"), found


async def hallway_rooms_leaves_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    rooms = (await ok(client, viewer.person, "GET", "/rooms"))["rooms"]
    assert other.live_room not in ids(rooms, "id")
    # nor on the stage of anyone else's room the hallway lists
    assert other.person.id not in {s["user_id"] for r in rooms for s in r["speakers"]}, rooms


async def hallway_live_and_upcoming_leave_them_out(
    client: AsyncClient, viewer: Side, other: Side
) -> None:
    hallway = await ok(client, viewer.person, "GET", "/hallway")
    listed = ids(hallway["live"], "id") | ids(hallway["upcoming"], "id")
    assert not {other.live_room, other.scheduled_room} & listed
    assert other.person.id not in {s["user_id"] for r in hallway["live"] for s in r["speakers"]}
    assert other.person.id not in {r["host_id"] for r in hallway["live"] + hallway["upcoming"]}


async def their_rooms_are_404(client: AsyncClient, viewer: Side, other: Side) -> None:
    for room in (other.live_room, other.scheduled_room):
        for method, path in (
            ("GET", f"/rooms/{room}"),
            ("GET", f"/rooms/{room}/events"),
            ("GET", f"/rooms/{room}/calendar.ics"),
            ("GET", f"/rooms/{room}/people"),
            ("POST", f"/rooms/{room}/rsvp"),
            ("DELETE", f"/rooms/{room}/rsvp"),
        ):
            await _status(client, viewer, method, path, 404, "room_not_found")
    await _status(client, viewer, "POST", f"/rooms/{other.live_room}/join", 404, "room_not_found")


async def not_left_in_their_live_room(client: AsyncClient, viewer: Side, other: Side) -> None:
    # The block took the viewer out of the other's live room: the host sees them gone, and the
    # media layer refuses them audio there (it checks presence before anything else).
    room = await ok(client, other.person, "GET", f"/rooms/{other.live_room}")
    assert viewer.person.id not in {p["user_id"] for p in room["participants"]}
    response = await call(client, viewer.person, "POST", f"/rooms/{other.live_room}/media/listen")
    assert response.status_code in (403, 409), response.text
    assert response.json()["error"]["code"] in ("removed_from_room", "not_in_room"), response.text


async def people_met_leave_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    met = (await ok(client, viewer.person, "GET", "/me/met"))["people"]
    assert met, "the scenario has them meet others"
    assert other.person.id not in ids(met, "person", "id")


async def cards_leave_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    cards = await ok(client, viewer.person, "GET", "/cards")
    assert other.person.id not in ids(cards["received"] + cards["sent"], "person", "id")


async def connections_leave_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    listed = await ok(client, viewer.person, "GET", "/connections")
    everyone = listed["connections"] + listed["incoming"] + listed["outgoing"]
    assert other.person.id not in ids(everyone, "person", "id")


async def no_new_ties_can_be_made(client: AsyncClient, viewer: Side, other: Side) -> None:
    for method, path, body in (
        ("POST", f"/users/{other.person.id}/follow", None),
        ("POST", "/connections", {"user_id": other.person.id}),
    ):
        response = await call(client, viewer.person, method, path, body)
        assert (response.status_code, response.json()["error"]["code"]) == (
            404,
            "user_not_found",
        ), response.text


async def notices_leave_them_out(client: AsyncClient, viewer: Side, other: Side) -> None:
    notices = (await ok(client, viewer.person, "GET", "/notifications"))["notifications"]
    about_them = [
        n
        for n in notices
        if (n["data"] or {}).get("user_id") == other.person.id or other.name in n["body"]
    ]
    assert about_them == [], about_them


CHECKS: list[Check] = [
    profile_is_404,
    search_people_leaves_them_out,
    search_rooms_leaves_their_rooms_out,
    hallway_rooms_leaves_them_out,
    hallway_live_and_upcoming_leave_them_out,
    their_rooms_are_404,
    not_left_in_their_live_room,
    people_met_leave_them_out,
    cards_leave_them_out,
    connections_leave_them_out,
    no_new_ties_can_be_made,
    notices_leave_them_out,
]


async def _set_name(client: AsyncClient, person: Person, name: str) -> None:
    await ok(client, person, "PATCH", "/me/profile", {"name": name, "skills": ["negotiation"]})


@pytest.mark.parametrize("blocker_is", ["host_of_the_room_they_met_in", "guest"])
async def test_a_blocked_pair_is_invisible_to_each_other_everywhere(
    client: AsyncClient, db: Database, clock: Clock, blocker_is: str
) -> None:
    ana_p, ben_p, cid = await make_members(db, 3)
    await _set_name(client, ana_p, "Anabel Hostly")
    await _set_name(client, ben_p, "Benedikt Guestly")
    later = (clock() + dt.timedelta(hours=3)).isoformat()

    # Every tie there can be between the two, before the block.
    await ok(client, ana_p, "POST", f"/users/{ben_p.id}/follow")
    await ok(client, ben_p, "POST", f"/users/{ana_p.id}/follow")
    ana_live = await open_room(
        client, ana_p, title="Anabel live", topics=["negotiation"]
    )  # ben is told
    ben_live = await open_room(
        client, ben_p, title="Benedikt live", topics=["negotiation"]
    )  # ana is told
    ana_next = await open_room(client, ana_p, title="Anabel upcoming", starts_at=later)
    ben_next = await open_room(client, ben_p, title="Benedikt upcoming", starts_at=later)
    await ok(client, ben_p, "POST", f"/rooms/{ana_live['id']}/join")
    await ok(client, ana_p, "POST", f"/rooms/{ben_live['id']}/join")
    await ok(client, ben_p, "POST", f"/rooms/{ana_next['id']}/rsvp")
    await ok(client, ana_p, "POST", f"/rooms/{ben_next['id']}/rsvp")
    await ok(
        client, ana_p, "POST", f"/rooms/{ana_live['id']}/speakers", {"user_id": ben_p.id}
    )  # a notice
    await ok(client, ana_p, "POST", "/connections", {"user_id": ben_p.id})  # a pending request
    await ok(client, ana_p, "POST", "/cards", {"user_id": ben_p.id, "room_id": ana_live["id"]})
    await ok(client, ben_p, "POST", "/cards", {"user_id": ana_p.id, "room_id": ana_live["id"]})
    # both on the stage of a third person's room, who lists them in the hallway
    cid_room = await open_room(client, cid, title="Cid's stage", topics=["negotiation"])
    for person in (ana_p, ben_p):
        await ok(client, person, "POST", f"/rooms/{cid_room['id']}/join")
        await ok(client, cid, "POST", f"/rooms/{cid_room['id']}/speakers", {"user_id": person.id})
    ana = Side(ana_p, "Anabel", ana_live["id"], ana_next["id"])
    ben = Side(ben_p, "Benedikt", ben_live["id"], ben_next["id"])
    # the ties are really there: each side sees the other in every place checked below
    assert ana_p.id in ids(
        (await ok(client, ben_p, "GET", "/search/people?q=Anabel"))["people"], "id"
    )
    assert ana_live["id"] in ids((await ok(client, ben_p, "GET", "/hallway"))["live"], "id")
    assert ben_p.id in ids((await ok(client, ana_p, "GET", "/me/met"))["people"], "person", "id")
    assert ben_p.id in ids((await ok(client, ana_p, "GET", "/cards"))["received"], "person", "id")
    assert {"room_started", "connection_request", "card_offered", "brought_on_stage"} <= {
        n["kind"] for n in (await ok(client, ben_p, "GET", "/notifications"))["notifications"]
    }

    blocker, blocked = (ana, ben) if blocker_is == "host_of_the_room_they_met_in" else (ben, ana)
    await ok(client, blocker.person, "POST", f"/users/{blocked.person.id}/block")

    failures = []
    for viewer, other in ((blocked, blocker), (blocker, blocked)):
        for check in CHECKS:
            try:
                await check(client, viewer, other)
            except AssertionError as exc:
                failures.append(f"{viewer.name} sees {other.name} in {check.__name__}: {exc}")
    # a room either starts after the block: the other is not told, and cannot find it
    after = await open_room(client, blocked.person, title=f"{blocked.name} again")
    notices = (await ok(client, blocker.person, "GET", "/notifications"))["notifications"]
    if after["id"] in {(n["data"] or {}).get("room_id") for n in notices}:
        failures.append(f"{blocker.name} was told that {blocked.name} started a room")
    assert not failures, "\n".join(failures)
    # the third person still sees both of them
    stage = (await ok(client, cid, "GET", f"/rooms/{cid_room['id']}"))["participants"]
    assert {ana_p.id, ben_p.id} <= {p["user_id"] for p in stage}


async def test_a_blocked_waitlister_cannot_be_let_in(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    (ana,) = await make_members(db, 1)
    await set_phase(db, "invite")
    waiting = await waitlister(client, outbox)
    await ok(client, waiting, "PUT", "/me/contacts/findable", {"findable": True})
    digest = hashlib.sha256(waiting.phone.encode()).hexdigest()
    await ok(client, ana, "PUT", "/me/contacts", {"hashes": [digest]})
    assert ids(
        (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"], "person", "id"
    ) == {waiting.id}
    await ok(client, ana, "POST", f"/users/{waiting.id}/block")
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    response = await call(client, ana, "POST", f"/waitlist/{waiting.id}/let-in")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_your_contact")
    assert (await ok(client, waiting, "GET", "/me"))["status"] == "waitlisted"
