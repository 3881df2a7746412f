"""Staff suspend an account: its sessions end, sign-in is refused to the number's owner only,
it is taken out of every room, and it comes back when the suspension ends or is lifted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from httpx import AsyncClient

from conftest import Clock
from factories import Person, in_transaction, last_code, sign_in, staff_member
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts import service as accounts
from mitalk.core.database import Database, utcnow
from mitalk.core.security import hash_token, new_token
from mitalk.core.settings import Settings
from rooms.kit import call, fails, fetch, make_members, ok, open_room, participant


def suspend_path(person: Person) -> str:
    return f"/admin/users/{person.id}/suspend"


async def sign_in_answer(client: AsyncClient, outbox: Path, phone: str) -> tuple[int, dict]:
    """Ask for a code and verify it, as the number's owner does: (status, JSON)."""
    sent = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    verified = await client.post(
        "/api/v1/auth/verify",
        json={"phone": phone, "code": last_code(outbox, phone), "ticket": sent.json()["ticket"]},
    )
    return verified.status_code, verified.json()


async def room_with_stage(
    client: AsyncClient, host: Person, speaker: Person, listener: Person
) -> dict:  # type: ignore[type-arg]
    """A live room: ``host`` runs it, ``speaker`` is on its stage, ``listener`` in the audience."""
    room = await open_room(client, host)
    for person in (speaker, listener):
        await ok(client, person, "POST", f"/rooms/{room['id']}/join")
    await ok(client, host, "POST", f"/rooms/{room['id']}/speakers", {"user_id": speaker.id})
    return room


async def found(client: AsyncClient, who: Person, q: str) -> list[str]:
    """The ids of the people a search for ``q`` finds."""
    return [p["id"] for p in (await ok(client, who, "GET", f"/search/people?q={q}"))["people"]]


async def test_a_suspended_member_is_signed_out_refused_and_taken_out_of_rooms(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    staff = await staff_member(client, outbox, db, settings)
    host, speaker, listener = await make_members(db, 3, "S")
    room = await room_with_stage(client, host, speaker, listener)

    before = (await fetch(client, listener, room["id"]))["seq"]
    answer = await ok(client, staff, "POST", suspend_path(speaker), {"reason": "Spam in rooms"})
    assert answer["suspended"] is True and answer["until"] is None
    assert answer["reason"] == "Spam in rooms" and answer["by"] == staff.id
    # Out of the room as if they had left (``room.participant_left``: the media layer drops
    # their seat and audio as for anyone who leaves); not a removal, so they may come back.
    page = await ok(client, listener, "GET", f"/rooms/{room['id']}/events?after={before}")
    assert [(e["type"], e["user_id"]) for e in page["events"]] == [
        ("room.participant_left", speaker.id)
    ]
    seen = await fetch(client, listener, room["id"])
    assert participant(seen, speaker) is None
    # Every session ended; the other people are untouched.
    await fails(client, speaker, "GET", "/me", 401, "not_authenticated")
    await ok(client, listener, "GET", "/me")
    # Signing in again: only whoever holds the number's code learns of the suspension.
    status, body = await sign_in_answer(client, outbox, speaker.phone)
    assert (status, body["error"]["code"]) == (403, "account_suspended"), body
    assert "token" not in body
    # Staff see it; the person is not told the reason.
    shown = await ok(client, staff, "GET", suspend_path(speaker))
    assert shown["suspended"] is True and shown["since"] is not None
    assert "Spam" not in body["error"]["message"]

    lifted = await call(client, staff, "DELETE", suspend_path(speaker))
    assert lifted.status_code == 200 and lifted.json()["suspended"] is False
    status, body = await sign_in_answer(client, outbox, speaker.phone)
    assert status == 200 and body["account"]["id"] == speaker.id
    # Back in the room they were taken out of, the room still running.
    back = Person(speaker.phone, body["token"], body["account"])
    await ok(client, back, "POST", f"/rooms/{room['id']}/join")
    assert participant(await fetch(client, listener, room["id"]), speaker) is not None


async def test_a_suspension_with_an_end_ends_by_itself(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings, clock: Clock
) -> None:
    staff = await staff_member(client, outbox, db, settings)
    person, other = await make_members(db, 2, "T")
    await ok(client, person, "PATCH", "/me/profile", {"name": "Tabea Tester"})
    assert await found(client, other, "Tabea") == [person.id]
    until = utcnow() + dt.timedelta(hours=2)
    await ok(
        client, staff, "POST", suspend_path(person),
        {"until": until.isoformat(), "reason": "Cool-off"},
    )  # fmt: skip
    status, body = await sign_in_answer(client, outbox, person.phone)
    assert (status, body["error"]["code"]) == (403, "account_suspended")
    assert until.strftime("%Y-%m-%d %H:%M UTC") in body["error"]["message"]
    # The end as a field too, for clients to word it in the person's language.
    assert dt.datetime.fromisoformat(body["error"]["until"]) == until
    # Not in members' search while suspended; staff still find them (to lift it).
    assert await found(client, other, "Tabea") == []
    assert await found(client, staff, "Tabea") == [person.id]
    clock.advance(2 * 3600 + 1)
    status, body = await sign_in_answer(client, outbox, person.phone)
    assert status == 200, body
    assert (await ok(client, staff, "GET", suspend_path(person)))["suspended"] is False
    assert await found(client, other, "Tabea") == [person.id]


async def test_a_session_made_as_the_suspension_commits_does_not_work(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    """A sign-in that finishes at the moment of the suspension may still write a session after
    the sessions were ended: the token look-ups themselves refuse a suspended account."""
    staff = await staff_member(client, outbox, db, settings)
    [person] = await make_members(db, 1, "R")
    await ok(client, staff, "POST", suspend_path(person), {"reason": "Fraud"})
    token = new_token()

    async def late_session(session):  # type: ignore[no-untyped-def]
        return await accounts_repo.add_auth_session(
            session, person.id, hash_token(token), utcnow() + dt.timedelta(days=1)
        )

    row = await in_transaction(db, late_session)
    late = Person(person.phone, token, person.account)
    # The sockets' checks (right after opening, and the sweep) say it is not live either.
    assert not await accounts.session_is_live(db, row.id, utcnow())
    await fails(client, late, "GET", "/me", 401, "not_authenticated")
    claim = await client.post("/api/v1/passes/claim", headers=late.headers)  # the fast route
    assert claim.status_code == 401, claim.text


async def test_only_staff_suspend_and_never_staff(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    staff = await staff_member(client, outbox, db, settings)
    other_staff = await staff_member(client, outbox, db, settings)
    member_, target = await make_members(db, 2, "U")
    body = {"reason": "Spam"}
    await fails(client, member_, "POST", suspend_path(target), 403, "staff_only", body)
    await fails(client, member_, "GET", suspend_path(target), 403, "staff_only")
    await fails(client, staff, "POST", suspend_path(other_staff), 409, "cannot_suspend_staff", body)
    await fails(client, staff, "POST", suspend_path(staff), 409, "cannot_suspend_staff", body)
    await fails(
        client, staff, "POST", "/admin/users/nobody/suspend", 404, "user_not_found", body
    )
    past = (utcnow() - dt.timedelta(minutes=1)).isoformat()
    far = (utcnow() + dt.timedelta(days=3651)).isoformat()
    for until in (past, far):
        await fails(
            client, staff, "POST", suspend_path(target), 422, "invalid_until",
            {"until": until, "reason": "Spam"},
        )  # fmt: skip
    for bad in (
        {"reason": ""},
        {"reason": "x" * 201},
        {"reason": "line\nbreak"},
        {"reason": "Spam", "until": "2030-01-01T00:00:00"},  # no time zone
        {"reason": "Spam", "until": "9999-12-31T23:59:00-01:00"},  # past the calendar in UTC
        {"reason": "Spam", "extra": 1},
    ):
        refused = await call(client, staff, "POST", suspend_path(target), bad)
        assert refused.status_code == 422, (bad, refused.text)
    # None of it touched the target.
    await ok(client, target, "GET", "/me")
    shown = await ok(client, staff, "GET", suspend_path(target))
    assert shown["suspended"] is False and shown["can_suspend"] is True
    # The page of a staff member offers no suspension.
    assert (await ok(client, staff, "GET", suspend_path(other_staff)))["can_suspend"] is False


async def test_a_suspended_host_hands_the_room_on(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    staff = await staff_member(client, outbox, db, settings)
    host, speaker, listener = await make_members(db, 3, "H")
    room = await room_with_stage(client, host, speaker, listener)
    await ok(client, staff, "POST", suspend_path(host), {"reason": "Abuse"})
    seen = await fetch(client, listener, room["id"])
    assert seen["status"] == "live"
    assert participant(seen, host) is None
    assert (participant(seen, speaker) or {}).get("role") == "moderator"

    # Alone on stage: the room ends with its host's suspension.
    alone = await open_room(client, speaker)
    await ok(client, listener, "POST", f"/rooms/{alone['id']}/join")
    await ok(client, staff, "POST", suspend_path(speaker), {"reason": "Abuse"})
    assert (await fetch(client, listener, alone["id"]))["status"] == "ended"


async def test_staff_sign_in_still_works(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    """The check sits after the code: a number that is not suspended signs in as before."""
    staff = await staff_member(client, outbox, db, settings)
    again = await sign_in(client, outbox, staff.phone)
    assert again.id == staff.id
