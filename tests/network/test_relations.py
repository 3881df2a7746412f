"""Follows, connections and blocks over HTTP, every rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from httpx import AsyncClient
from sqlalchemy import func, select, update

from factories import in_transaction
from mitalk.core.database import Database, utcnow
from mitalk.network import service
from mitalk.network.models import Connection
from mitalk.notifications.models import Notification
from rooms.kit import call, fails, make_members, ok, open_room


async def test_follow_is_one_way_and_idempotent(client: AsyncClient, db: Database) -> None:
    ana, ben = await make_members(db, 2)
    await ok(client, ana, "POST", f"/users/{ben.id}/follow")
    await ok(client, ana, "POST", f"/users/{ben.id}/follow")
    seen_by_ana = await ok(client, ana, "GET", f"/users/{ben.id}")
    assert (seen_by_ana["following"], seen_by_ana["followed_by"]) == (True, False)
    seen_by_ben = await ok(client, ben, "GET", f"/users/{ana.id}")
    assert (seen_by_ben["following"], seen_by_ben["followed_by"]) == (False, True)
    assert seen_by_ben["connection"] == "none" and seen_by_ben["blocked"] is False
    await ok(client, ana, "DELETE", f"/users/{ben.id}/follow")
    assert (await ok(client, ana, "GET", f"/users/{ben.id}"))["following"] is False
    await fails(client, ana, "POST", f"/users/{ana.id}/follow", 409, "cannot_target_self")
    await fails(client, ana, "POST", "/users/nobody/follow", 404, "user_not_found")


async def test_connection_request_accept_and_remove(client: AsyncClient, db: Database) -> None:
    ana, ben = await make_members(db, 2, "Person")
    response = await call(client, ana, "POST", "/connections", {"user_id": ben.id})
    assert response.status_code == 201, response.text
    request = response.json()
    assert (request["status"], request["direction"], request["person"]["id"]) == (
        "pending",
        "outgoing",
        ben.id,
    )
    await fails(client, ana, "POST", "/connections", 409, "already_requested", {"user_id": ben.id})
    assert (await ok(client, ana, "GET", f"/users/{ben.id}"))["connection"] == "pending_outgoing"
    assert (await ok(client, ben, "GET", f"/users/{ana.id}"))["connection"] == "pending_incoming"
    listed = await ok(client, ben, "GET", "/connections")
    assert [c["id"] for c in listed["incoming"]] == [request["id"]] and not listed["outgoing"]
    assert listed["incoming"][0]["person"] == {
        "id": ana.id,
        "profile": listed["incoming"][0]["person"]["profile"],
    }
    # only the addressee answers; the requester cannot accept their own request
    await fails(
        client, ana, "POST", f"/connections/{request['id']}/accept", 404, "connection_not_found"
    )
    accepted = await ok(client, ben, "POST", f"/connections/{request['id']}/accept")
    assert accepted["status"] == "accepted" and accepted["direction"] == "incoming"
    await fails(client, ben, "POST", f"/connections/{request['id']}/accept", 409, "not_pending")
    await fails(client, ana, "POST", "/connections", 409, "already_connected", {"user_id": ben.id})
    assert (await ok(client, ana, "GET", f"/users/{ben.id}"))["connection"] == "connected"
    assert [
        c["person"]["id"] for c in (await ok(client, ana, "GET", "/connections"))["connections"]
    ] == [ben.id]
    # notices: a request to ben, an acceptance to ana
    notes = await ok(client, ben, "GET", "/notifications")
    assert [n["kind"] for n in notes["notifications"]] == ["connection_request"]
    assert "Person 1" in notes["notifications"][0]["body"]
    assert notes["notifications"][0]["data"] == {"user_id": ana.id}  # clients link to the asker
    assert [
        n["kind"] for n in (await ok(client, ana, "GET", "/notifications"))["notifications"]
    ] == ["connection_accepted"]
    # either side removes it
    await ok(client, ben, "DELETE", f"/connections/{request['id']}")
    assert (await ok(client, ana, "GET", f"/users/{ben.id}"))["connection"] == "none"
    await fails(client, ben, "DELETE", f"/connections/{request['id']}", 404, "connection_not_found")


async def test_decline_withdraw_and_crossing_requests(client: AsyncClient, db: Database) -> None:
    ana, ben, cid = await make_members(db, 3)
    first = await ok(client, ana, "POST", "/connections", {"user_id": ben.id})
    await ok(client, ben, "POST", f"/connections/{first['id']}/decline")
    assert (await ok(client, ana, "GET", "/connections"))["outgoing"] == []
    # ana may ask again, then withdraw; ben cannot withdraw ana's request
    again = await ok(client, ana, "POST", "/connections", {"user_id": ben.id})
    await fails(client, ben, "DELETE", f"/connections/{again['id']}", 404, "connection_not_found")
    await ok(client, ana, "DELETE", f"/connections/{again['id']}")
    assert (await ok(client, ben, "GET", "/connections"))["incoming"] == []
    # a request to someone who asked you already accepts theirs (200, not a second row)
    theirs = await ok(client, cid, "POST", "/connections", {"user_id": ana.id})
    crossing = await call(client, ana, "POST", "/connections", {"user_id": cid.id})
    assert crossing.status_code == 200, crossing.text
    assert (crossing.json()["id"], crossing.json()["status"]) == (theirs["id"], "accepted")
    count = await in_transaction(
        db, lambda s: s.scalar(select(func.count()).select_from(Connection))
    )
    assert count == 1
    await fails(client, ana, "POST", "/connections", 409, "cannot_target_self", {"user_id": ana.id})
    await fails(client, ana, "POST", "/connections", 404, "user_not_found", {"user_id": "nobody"})


async def test_connection_requests_are_limited_per_day(client: AsyncClient, db: Database) -> None:
    people = await make_members(db, service.CONNECTION_REQUESTS_PER_DAY + 2)
    asker, others = people[0], people[1:]
    for other in others[: service.CONNECTION_REQUESTS_PER_DAY]:
        await ok(client, asker, "POST", "/connections", {"user_id": other.id})
    await fails(
        client,
        asker,
        "POST",
        "/connections",
        409,
        "too_many_connection_requests",
        {"user_id": others[-1].id},
    )
    # a day later (requests still unanswered) the limit has room again
    day_ago = utcnow() - dt.timedelta(hours=24, seconds=1)
    await in_transaction(db, lambda s: s.execute(update(Connection).values(created_at=day_ago)))
    await ok(client, asker, "POST", "/connections", {"user_id": others[-1].id})


async def test_blocking_severs_everything_and_hides_both_ways(
    client: AsyncClient, db: Database
) -> None:
    ana, ben, cid = await make_members(db, 3)
    await ok(client, ana, "POST", f"/users/{ben.id}/follow")
    await ok(client, ben, "POST", f"/users/{ana.id}/follow")
    request = await ok(client, ben, "POST", "/connections", {"user_id": ana.id})
    await ok(client, ana, "POST", f"/connections/{request['id']}/accept")
    room = await open_room(client, ana, title="Ana's room")
    await ok(client, ana, "POST", f"/users/{ben.id}/block")
    await ok(client, ana, "POST", f"/users/{ben.id}/block")  # twice is fine
    # each is 404 to the other
    await fails(client, ana, "GET", f"/users/{ben.id}", 404, "user_not_found")
    await fails(client, ben, "GET", f"/users/{ana.id}", 404, "user_not_found")
    # follows both ways and the connection are gone
    assert (await ok(client, ana, "GET", "/connections"))["connections"] == []
    assert (await ok(client, ben, "GET", "/connections"))["connections"] == []
    # neither may follow, connect or request
    for actor, target in ((ben, ana), (ana, ben)):
        await fails(client, actor, "POST", f"/users/{target.id}/follow", 404, "user_not_found")
        await fails(
            client, actor, "POST", "/connections", 404, "user_not_found", {"user_id": target.id}
        )
    # the host's rooms do not exist for ben, not even in the hallway
    await fails(client, ben, "GET", f"/rooms/{room['id']}", 404, "room_not_found")
    await fails(client, ben, "POST", f"/rooms/{room['id']}/join", 404, "room_not_found")
    assert [p["id"] for p in (await ok(client, ana, "GET", "/me/blocks"))["people"]] == [ben.id]
    # others are unaffected
    assert (await ok(client, cid, "GET", f"/users/{ben.id}"))["id"] == ben.id
    await ok(client, cid, "POST", f"/rooms/{room['id']}/join")
    # unblocking lets them see each other again; what the block removed stays removed
    await ok(client, ana, "DELETE", f"/users/{ben.id}/block")
    seen = await ok(client, ben, "GET", f"/users/{ana.id}")
    assert (seen["following"], seen["followed_by"], seen["connection"]) == (False, False, "none")
    await ok(client, ben, "GET", f"/rooms/{room['id']}")
    assert (await ok(client, ana, "GET", "/me/blocks"))["people"] == []
    await fails(client, ana, "POST", f"/users/{ana.id}/block", 409, "cannot_target_self")


async def test_the_blocked_person_cannot_see_rooms_the_blocker_hosts_even_when_invited(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host, visibility="closed")
    await ok(client, host, "POST", f"/rooms/{room['id']}/invites", {"user_id": guest.id})
    await ok(client, guest, "POST", f"/users/{host.id}/block")  # the guest blocks the host
    await fails(client, guest, "POST", f"/rooms/{room['id']}/join", 404, "room_not_found")


async def test_social_rooms_admit_whom_the_host_follows_and_connections(
    client: AsyncClient, db: Database
) -> None:
    host, followed, follower, contact, stranger = await make_members(db, 5)
    await ok(client, host, "POST", f"/users/{followed.id}/follow")
    await ok(
        client, follower, "POST", f"/users/{host.id}/follow"
    )  # following the host is not enough
    request = await ok(client, contact, "POST", "/connections", {"user_id": host.id})
    room = await open_room(client, host, visibility="social")
    await fails(
        client, contact, "POST", f"/rooms/{room['id']}/join", 403, "not_invited"
    )  # pending only
    await ok(client, host, "POST", f"/connections/{request['id']}/accept")
    await ok(client, followed, "POST", f"/rooms/{room['id']}/join")
    await ok(client, contact, "POST", f"/rooms/{room['id']}/join")
    await fails(client, follower, "POST", f"/rooms/{room['id']}/join", 403, "not_invited")
    await fails(client, stranger, "GET", f"/rooms/{room['id']}", 403, "not_invited")
    closed = await open_room(client, host, visibility="closed", title="Closed")
    await fails(client, followed, "POST", f"/rooms/{closed['id']}/join", 403, "not_invited")


async def test_waitlisted_accounts_are_not_people_yet(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    from factories import waitlister

    (ana,) = await make_members(db, 1)
    waiting = await waitlister(client, outbox)
    await fails(client, ana, "GET", f"/users/{waiting.id}", 404, "user_not_found")
    await fails(client, ana, "POST", "/connections", 404, "user_not_found", {"user_id": waiting.id})
    await fails(client, waiting, "GET", f"/users/{ana.id}", 403, "not_active")
    notices = await in_transaction(
        db, lambda s: s.scalar(select(func.count()).select_from(Notification))
    )
    assert notices == 0
