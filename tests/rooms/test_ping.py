"""Pinging a follower into the room you are in: a notice that opens the room, once per room
and person, only to your followers, at most 30 an hour; moderators only in rooms not open."""

from __future__ import annotations

from httpx import AsyncClient

from mitalk.core.database import Database
from mitalk.rooms.service import PINGS_PER_HOUR
from rooms.kit import fails, make_members, ok, open_room


async def test_a_follower_is_pinged_once_into_the_room(client: AsyncClient, db: Database) -> None:
    host, fan, stranger = await make_members(db, 3, "P")
    await ok(client, fan, "PUT", "/me/language", {"language": "de"})
    await ok(client, fan, "POST", f"/users/{host.id}/follow")
    rid = (await open_room(client, host, title="Fintech Friday"))["id"]

    assert await ok(client, host, "POST", f"/rooms/{rid}/ping", {"user_id": fan.id}) == {
        "sent": True
    }
    notices = (await ok(client, fan, "GET", "/notifications"))["notifications"]
    pinged = [n for n in notices if n["kind"] == "pinged"]
    assert len(pinged) == 1
    assert pinged[0]["body"] == "P 1 holt dich in „Fintech Friday“"
    assert pinged[0]["data"] == {"room_id": rid, "user_id": host.id}
    again = await ok(client, host, "POST", f"/rooms/{rid}/ping", {"user_id": fan.id})
    assert again == {"sent": False}  # once per room and person

    body = {"user_id": stranger.id}
    await fails(client, host, "POST", f"/rooms/{rid}/ping", 403, "not_a_follower", body)
    await fails(client, host, "POST", f"/rooms/{rid}/ping", 403, "not_a_follower",
                {"user_id": host.id})  # fmt: skip
    # Only from inside the room.
    await fails(client, stranger, "POST", f"/rooms/{rid}/ping", 409, "not_in_room",
                {"user_id": fan.id})  # fmt: skip


async def test_in_a_closed_room_only_moderators_ping_and_that_invites(
    client: AsyncClient, db: Database
) -> None:
    host, fan, guest = await make_members(db, 3)
    for person in (fan, guest):
        await ok(client, person, "POST", f"/users/{host.id}/follow")
    await ok(client, fan, "POST", f"/users/{guest.id}/follow")
    rid = (await open_room(client, host, visibility="closed"))["id"]
    await fails(client, fan, "POST", f"/rooms/{rid}/join", 403, "not_invited")
    await ok(client, host, "POST", f"/rooms/{rid}/ping", {"user_id": guest.id})
    await ok(client, guest, "POST", f"/rooms/{rid}/join")  # the ping let them in
    await fails(client, guest, "POST", f"/rooms/{rid}/ping", 403, "not_a_moderator",
                {"user_id": fan.id})  # fmt: skip


async def test_pings_have_an_hourly_limit(client: AsyncClient, db: Database) -> None:
    host, *fans = await make_members(db, PINGS_PER_HOUR + 2)
    for fan in fans:
        await ok(client, fan, "POST", f"/users/{host.id}/follow")
    rid = (await open_room(client, host))["id"]
    for fan in fans[:PINGS_PER_HOUR]:
        await ok(client, host, "POST", f"/rooms/{rid}/ping", {"user_id": fan.id})
    await fails(client, host, "POST", f"/rooms/{rid}/ping", 429, "too_many_pings",
                {"user_id": fans[-1].id})  # fmt: skip
