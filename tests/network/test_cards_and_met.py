"""People you met in rooms and contact cards: overlap of stays, the week they last, blocks."""

from __future__ import annotations

import datetime as dt

from httpx import AsyncClient
from sqlalchemy import update

from conftest import Clock
from factories import in_transaction
from mitalk.core.database import Database, utcnow
from mitalk.network.models import RoomVisit
from network.kit import together_in_room
from rooms.kit import fails, make_members, ok


async def test_people_met_are_those_in_the_room_at_the_same_time(
    client: AsyncClient, db: Database
) -> None:
    host, early, late, never = await make_members(db, 4)
    room_id = await together_in_room(client, host, early)
    await ok(client, early, "POST", f"/rooms/{room_id}/leave")
    await ok(client, late, "POST", f"/rooms/{room_id}/join")  # after early left: they never met
    met_by_host = await ok(client, host, "GET", f"/rooms/{room_id}/people")
    assert sorted(p["person"]["id"] for p in met_by_host["people"]) == sorted([early.id, late.id])
    assert [
        p["person"]["id"]
        for p in (await ok(client, early, "GET", f"/rooms/{room_id}/people"))["people"]
    ] == [host.id]
    assert [
        p["person"]["id"]
        for p in (await ok(client, late, "GET", f"/rooms/{room_id}/people"))["people"]
    ] == [host.id]
    assert (await ok(client, never, "GET", f"/rooms/{room_id}/people"))["people"] == []
    # coming back later to meet someone counts
    await ok(client, early, "POST", f"/rooms/{room_id}/join")
    assert sorted(
        p["person"]["id"] for p in (await ok(client, late, "GET", "/me/met"))["people"]
    ) == sorted([host.id, early.id])
    entry = (await ok(client, early, "GET", f"/rooms/{room_id}/people"))["people"][0]
    assert entry["room_id"] == room_id and entry["connection"] == "none"
    assert entry["card_sent"] is False and entry["card_received"] is False


async def test_a_card_offered_and_accepted_connects_two_people(
    client: AsyncClient, db: Database
) -> None:
    host, guest, stranger = await make_members(db, 3, "Guest")
    room_id = await together_in_room(client, host, guest)
    await ok(client, host, "POST", f"/rooms/{room_id}/end")
    card = await ok(client, guest, "POST", "/cards", {"user_id": host.id, "room_id": room_id})
    assert (card["status"], card["direction"], card["person"]["id"]) == (
        "pending",
        "outgoing",
        host.id,
    )
    await fails(
        client,
        guest,
        "POST",
        "/cards",
        409,
        "card_already_offered",
        {"user_id": host.id, "room_id": room_id},
    )
    await fails(
        client, stranger, "POST", "/cards", 403, "not_met", {"user_id": host.id, "room_id": room_id}
    )
    await fails(
        client,
        guest,
        "POST",
        "/cards",
        409,
        "cannot_target_self",
        {"user_id": guest.id, "room_id": room_id},
    )
    inbox = await ok(client, host, "GET", "/cards")
    assert [c["id"] for c in inbox["received"]] == [card["id"]]
    assert [
        n["kind"] for n in (await ok(client, host, "GET", "/notifications"))["notifications"]
    ] == ["card_offered"]
    met = (await ok(client, host, "GET", f"/rooms/{room_id}/people"))["people"][0]
    assert met["card_received"] is True and met["card_sent"] is False
    # only the recipient answers
    await fails(client, guest, "POST", f"/cards/{card['id']}/accept", 404, "card_not_found")
    connection = await ok(client, host, "POST", f"/cards/{card['id']}/accept")
    assert connection["status"] == "accepted" and connection["person"]["id"] == guest.id
    await fails(client, host, "POST", f"/cards/{card['id']}/accept", 409, "not_pending")
    assert [
        c["person"]["id"] for c in (await ok(client, guest, "GET", "/connections"))["connections"]
    ] == [host.id]
    assert (await ok(client, guest, "GET", f"/users/{host.id}"))["connection"] == "connected"
    assert (await ok(client, host, "GET", "/cards"))["received"] == []


async def test_a_declined_card_connects_no_one(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    room_id = await together_in_room(client, host, guest)
    card = await ok(client, host, "POST", "/cards", {"user_id": guest.id, "room_id": room_id})
    await ok(client, guest, "POST", f"/cards/{card['id']}/decline")
    assert (await ok(client, host, "GET", "/connections"))["connections"] == []
    assert (await ok(client, host, "GET", "/cards"))["sent"][0]["status"] == "declined"


async def test_people_met_last_a_week(client: AsyncClient, db: Database, clock: Clock) -> None:
    host, guest = await make_members(db, 2)
    room_id = await together_in_room(client, host, guest)
    await ok(client, host, "POST", f"/rooms/{room_id}/end")
    eight_days_ago = utcnow() - dt.timedelta(days=8)
    await in_transaction(
        db,
        lambda s: s.execute(
            update(RoomVisit).values(
                joined_at=eight_days_ago - dt.timedelta(hours=1), left_at=eight_days_ago
            )
        ),
    )
    assert (await ok(client, guest, "GET", f"/rooms/{room_id}/people"))["people"] == []
    assert (await ok(client, guest, "GET", "/me/met"))["people"] == []
    await fails(
        client, guest, "POST", "/cards", 403, "not_met", {"user_id": host.id, "room_id": room_id}
    )
    six_days_ago = utcnow() - dt.timedelta(days=6)
    await in_transaction(db, lambda s: s.execute(update(RoomVisit).values(left_at=six_days_ago)))
    listed = (await ok(client, guest, "GET", f"/rooms/{room_id}/people"))["people"]
    assert [p["person"]["id"] for p in listed] == [host.id]
    until = dt.datetime.fromisoformat(listed[0]["listed_until"])
    assert abs((until - (six_days_ago + dt.timedelta(days=7))).total_seconds()) < 2


async def test_blocked_people_vanish_from_people_met_and_cards(
    client: AsyncClient, db: Database
) -> None:
    host, guest, other = await make_members(db, 3)
    room_id = await together_in_room(client, host, guest, other)
    card = await ok(client, guest, "POST", "/cards", {"user_id": other.id, "room_id": room_id})
    await ok(client, other, "POST", f"/users/{guest.id}/block")
    assert [
        p["person"]["id"]
        for p in (await ok(client, guest, "GET", f"/rooms/{room_id}/people"))["people"]
    ] == [host.id]
    assert other.id not in [
        p["person"]["id"] for p in (await ok(client, guest, "GET", "/me/met"))["people"]
    ]
    assert (await ok(client, other, "GET", "/cards"))[
        "received"
    ] == []  # the pending card went with the block
    await fails(client, other, "POST", f"/cards/{card['id']}/accept", 404, "card_not_found")
    await fails(
        client,
        guest,
        "POST",
        "/cards",
        404,
        "user_not_found",
        {"user_id": other.id, "room_id": room_id},
    )
