"""Two requests at the same moment get sane answers and leave one row, never a 500 from a unique
constraint: crossing connection requests, double accepts, double follows and blocks, a card
accepted while a request crosses it, double RSVPs, and two members letting one waitlister in.

The requests run concurrently on the app (``asyncio.gather``), each in its own transaction on
its own connection: on PostgreSQL they really interleave (row locks, unique indexes); SQLite's
write lock queues them. Several pairs race at once to make the interleaving likely.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

from httpx import AsyncClient, Response
from sqlalchemy import func, select

from conftest import Clock
from factories import Person, in_transaction, member, set_phase, waitlister
from mitalk.accounts.models import User
from mitalk.core.database import Database
from mitalk.network.models import Block, Connection, Follow
from mitalk.notifications.models import Notification
from mitalk.rooms.models import RoomRsvp
from network.kit import together_in_room
from rooms.kit import call, make_members, ok, open_room

PAIRS = 4


async def count(db: Database, model: type, *where: object) -> int:
    return int(
        await in_transaction(
            db, lambda s: s.scalar(select(func.count()).select_from(model).where(*where))
        )
    )


def codes(responses: list[Response]) -> list[tuple[int, str]]:
    return sorted(
        (r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else "")
        for r in responses
    )


async def test_crossing_connection_requests_connect_the_pair_once(
    client: AsyncClient, db: Database
) -> None:
    people = await make_members(db, 2 * PAIRS)
    pairs = [(people[2 * i], people[2 * i + 1]) for i in range(PAIRS)]
    answers = await asyncio.gather(*(
        call(client, asker, "POST", "/connections", {"user_id": other.id})
        for a, b in pairs for asker, other in ((a, b), (b, a))
    ))
    for i, (a, b) in enumerate(pairs):
        both = answers[2 * i : 2 * i + 2]
        # one made the request, the other's call accepted it (as when they ask one after the other)
        assert sorted(r.status_code for r in both) == [200, 201], [r.text for r in both]
        assert {r.json()["id"] for r in both} == {both[0].json()["id"]}
        assert (await ok(client, a, "GET", f"/users/{b.id}"))["connection"] == "connected"
    assert await count(db, Connection) == PAIRS
    assert await count(db, Connection, Connection.status == "accepted") == PAIRS


async def test_a_request_accepted_twice_at_once(client: AsyncClient, db: Database) -> None:
    ana, ben = await make_members(db, 2)
    request = await ok(client, ana, "POST", "/connections", {"user_id": ben.id})
    answers = await asyncio.gather(
        *(call(client, ben, "POST", f"/connections/{request['id']}/accept") for _ in range(3))
    )
    assert codes(list(answers)) == [(200, ""), (409, "not_pending"), (409, "not_pending")]
    accepted = await count(db, Notification, Notification.kind == "connection_accepted")
    assert accepted == 1


async def test_following_and_blocking_twice_at_once(client: AsyncClient, db: Database) -> None:
    people = await make_members(db, 2 * PAIRS)
    pairs = [(people[2 * i], people[2 * i + 1]) for i in range(PAIRS)]
    for path in ("follow", "block"):
        answers = await asyncio.gather(*(
            call(client, a, "POST", f"/users/{b.id}/{path}") for a, b in pairs for _ in range(2)
        ))
        assert [r.status_code for r in answers] == [204] * 2 * PAIRS, [r.text for r in answers]
        assert await count(db, Follow if path == "follow" else Block) == PAIRS
        if path == "follow":
            for a, b in pairs:
                await ok(client, a, "DELETE", f"/users/{b.id}/follow")
            await asyncio.gather(
                *(call(client, a, "POST", f"/users/{b.id}/follow") for a, b in pairs)
            )
    assert await count(db, Follow) == 0  # the blocks removed them


async def test_a_card_accepted_while_a_request_crosses_it(
    client: AsyncClient, db: Database
) -> None:
    people = await make_members(db, 2 * PAIRS)
    pairs = [(people[2 * i], people[2 * i + 1]) for i in range(PAIRS)]
    cards = []
    for a, b in pairs:
        room = await together_in_room(client, a, b)
        cards.append(await ok(client, a, "POST", "/cards", {"user_id": b.id, "room_id": room}))
    answers = await asyncio.gather(*(
        request
        for (a, b), card in zip(pairs, cards, strict=True)
        for request in (
            call(client, b, "POST", f"/cards/{card['id']}/accept"),
            call(client, a, "POST", "/connections", {"user_id": b.id}),
        )
    ))
    assert all(r.status_code < 500 for r in answers), [r.text for r in answers]
    for a, b in pairs:
        assert (await ok(client, a, "GET", f"/users/{b.id}"))["connection"] in (
            "connected",
            "pending_outgoing",
        )
    assert await count(db, Connection) == PAIRS
    assert [r.status_code for r in answers[0::2]] == [200] * PAIRS, [r.text for r in answers[0::2]]
    assert await count(db, Connection, Connection.status == "accepted") == PAIRS


async def test_rsvp_twice_at_once(client: AsyncClient, db: Database, clock: Clock) -> None:
    host, *guests = await make_members(db, 1 + PAIRS)
    room = await open_room(client, host, starts_at=(clock() + dt.timedelta(hours=2)).isoformat())
    answers = await asyncio.gather(
        *(
            call(client, guest, "POST", f"/rooms/{room['id']}/rsvp")
            for guest in guests
            for _ in range(2)
        )
    )
    assert [r.status_code for r in answers] == [200] * 2 * PAIRS, [r.text for r in answers]
    assert {r.json()["rsvped"] for r in answers} == {True}
    assert await count(db, RoomRsvp) == PAIRS


async def test_two_members_let_one_waitlister_in_at_once(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "invite")
    members: list[Person] = [await member(client, outbox, db) for _ in range(3)]
    waiting = await waitlister(client, outbox)
    await ok(client, waiting, "PUT", "/me/contacts/findable", {"findable": True})
    digest = hashlib.sha256(waiting.phone.encode()).hexdigest()
    for person in members:
        await ok(client, person, "PUT", "/me/contacts", {"hashes": [digest]})
    answers = await asyncio.gather(
        *(call(client, m, "POST", f"/waitlist/{waiting.id}/let-in") for m in members)
    )
    ok_answers = [r for r in answers if r.status_code == 200]
    assert len(ok_answers) == 1, [r.text for r in answers]
    for refused in (r for r in answers if r.status_code != 200):
        assert (refused.status_code, refused.json()["error"]["code"]) in (
            (404, "not_your_contact"), (409, "already_member"),
        ), refused.text
    # exactly one invite spent, one admission, one "you're in"
    invites = await in_transaction(
        db,
        lambda s: s.scalars(select(User.invites_left).where(User.id.in_([m.id for m in members]))),
    )
    assert sorted(invites) == [4, 5, 5]
    assert (await ok(client, waiting, "GET", "/me"))["status"] == "active"
    assert (
        await count(
            db,
            Notification,
            Notification.user_id == waiting.id,
            Notification.kind == "pass_granted",
        )
        == 1
    )
