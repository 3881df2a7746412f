"""Staged access end to end over HTTP: phases, staff, invites, waitlist, drops, claim windows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from httpx import AsyncClient

from conftest import Clock
from factories import (
    in_transaction,
    member,
    new_phone,
    set_phase,
    sign_in,
    staff_member,
    waitlister,
)
from mitalk.access import service as access
from mitalk.access.drops import run_drop
from mitalk.core.database import Database
from mitalk.core.settings import Settings


async def me(client: AsyncClient, person) -> dict:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/me", headers=person.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def drop(
    db: Database, settings: Settings, count: int, drop_id: str | None = None
) -> access.DropResult:
    return await run_drop(db, settings, count, drop_id, batch_size=2)


def access_now():  # type: ignore[no-untyped-def]
    from mitalk.core.database import utcnow

    return utcnow()


async def open_window(db: Database, total: int, clock: Clock | None = None, **kwargs) -> str:  # type: ignore[no-untyped-def]
    now = clock() if clock else access_now()
    window = await in_transaction(db, lambda s: access.open_window(s, total, now, **kwargs))
    return window.id


async def test_the_whole_funnel(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    """The walk-through a new operator makes, as issue 'Done means' lists it."""
    # internal: staff gets in, everyone else waits in order of verification.
    staff = await staff_member(client, outbox, db, settings)
    assert staff.account["status"] == "active" and staff.account["is_staff"] is True
    first = await waitlister(client, outbox)
    assert first.account["waitlist"] == {"position": 1, "total": 1}
    second = await waitlister(client, outbox)
    assert second.account["waitlist"] == {"position": 2, "total": 2}

    # invite: the staff member invites a third number, which gets straight in.
    await set_phase(db, "invite")
    third_phone = new_phone()
    invited = await client.post(
        "/api/v1/invites", json={"phone": third_phone}, headers=staff.headers
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["status"] == "pending" and invited.json()["phone"] == third_phone
    third = await sign_in(client, outbox, third_phone)
    assert third.account["status"] == "active" and third.account["waitlist"] is None
    listed = (await client.get("/api/v1/invites", headers=staff.headers)).json()
    assert listed["invites_left"] == settings.default_invites - 1
    assert [(i["phone"], i["status"]) for i in listed["invites"]] == [(third_phone, "used")]

    # a drop of 1 admits the head of the line; the rest move up.
    result = await drop(db, settings, 1)
    assert result.admitted == 1
    assert (await me(client, first))["status"] == "active"
    assert (await me(client, second))["waitlist"] == {"position": 1, "total": 1}

    # a claim window of 1: two waitlisters claiming at once get exactly one pass between them.
    fourth = await waitlister(client, outbox)
    await open_window(db, 1)
    a, b = await asyncio.gather(
        client.post("/api/v1/passes/claim", headers=second.headers),
        client.post("/api/v1/passes/claim", headers=fourth.headers),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409]
    loser = a if a.status_code == 409 else b
    assert loser.json()["error"]["code"] == "sold_out"
    statuses = sorted([(await me(client, second))["status"], (await me(client, fourth))["status"]])
    assert statuses == ["active", "waitlisted"]


async def test_waitlisted_accounts_may_only_read_themselves_claim_and_edit_profile(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    person = await waitlister(client, outbox)
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 200
    assert (await client.get("/api/v1/waitlist/me", headers=person.headers)).status_code == 200
    patched = await client.patch("/api/v1/me/profile", json={"name": "Ada"}, headers=person.headers)
    assert patched.status_code == 200 and patched.json()["name"] == "Ada"
    for method, path in [("GET", "/api/v1/invites"), ("POST", "/api/v1/invites")]:
        response = await client.request(
            method, path, json={"phone": new_phone()}, headers=person.headers
        )
        assert response.status_code == 403 and response.json()["error"]["code"] == "not_active"


async def test_phase_open_lets_everyone_in_and_can_move_back(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    waiting = await waitlister(client, outbox)
    await set_phase(db, "open")
    assert (await me(client, waiting))["status"] == "active"
    newcomer = await sign_in(client, outbox)
    assert newcomer.account["status"] == "active"
    await set_phase(db, "internal")
    late = await sign_in(client, outbox)
    assert late.account["status"] == "waitlisted"
    # Members already in stay members when the door closes again.
    assert (await me(client, newcomer))["status"] == "active"


async def test_nobody_skips_the_line_by_signing_in_again(
    client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    first = await waitlister(client, outbox)
    second = await waitlister(client, outbox)
    clock.advance(31)
    again = await sign_in(client, outbox, first.phone)
    assert again.id == first.id and again.account["waitlist"]["position"] == 1
    assert (await me(client, second))["waitlist"]["position"] == 2


async def test_staff_added_later_is_let_in(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    person = await waitlister(client, outbox)
    from factories import add_staff

    await add_staff(db, settings, person.phone)
    body = await me(client, person)
    assert body["status"] == "active" and body["is_staff"] is True and body["waitlist"] is None


async def test_invite_rules(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    other = await member(client, outbox, db)
    target = new_phone()
    created = await client.post("/api/v1/invites", json={"phone": target}, headers=inviter.headers)
    assert created.status_code == 201
    dup = await client.post("/api/v1/invites", json={"phone": target}, headers=other.headers)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "already_invited"
    bad = await client.post("/api/v1/invites", json={"phone": "123"}, headers=inviter.headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_phone"

    # Someone else cannot revoke it; the inviter can, and gets the invite back.
    invite_id = created.json()["id"]
    assert (
        await client.delete(f"/api/v1/invites/{invite_id}", headers=other.headers)
    ).status_code == 404
    before = (await me(client, inviter))["invites_left"]
    assert (
        await client.delete(f"/api/v1/invites/{invite_id}", headers=inviter.headers)
    ).status_code == 204
    assert (await me(client, inviter))["invites_left"] == before + 1
    assert (await client.get("/api/v1/invites", headers=inviter.headers)).json()["invites"] == []
    # A revoked invite lets nobody in.
    revoked_target = await sign_in(client, outbox, target)
    assert revoked_target.account["status"] == "waitlisted"

    # A used invite cannot be revoked.
    used_phone = new_phone()
    used = (
        await client.post("/api/v1/invites", json={"phone": used_phone}, headers=inviter.headers)
    ).json()
    await sign_in(client, outbox, used_phone)
    gone = await client.delete(f"/api/v1/invites/{used['id']}", headers=inviter.headers)
    assert gone.status_code == 409 and gone.json()["error"]["code"] == "invite_not_pending"

    # Invites run out.
    left = (await me(client, inviter))["invites_left"]
    for _ in range(left):
        assert (
            await client.post(
                "/api/v1/invites", json={"phone": new_phone()}, headers=inviter.headers
            )
        ).status_code == 201
    out = await client.post("/api/v1/invites", json={"phone": new_phone()}, headers=inviter.headers)
    assert out.status_code == 403 and out.json()["error"]["code"] == "no_invites_left"


async def test_inviting_someone_who_already_waits_lets_them_in_at_once(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    waiting = await waitlister(client, outbox)
    response = await client.post(
        "/api/v1/invites", json={"phone": waiting.phone}, headers=inviter.headers
    )
    assert response.status_code == 201
    assert (await me(client, waiting))["status"] == "active"
    listed = (await client.get("/api/v1/invites", headers=inviter.headers)).json()["invites"]
    assert listed[0]["status"] == "used"


async def test_invites_wait_for_the_invite_phase(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    staff = await staff_member(client, outbox, db, settings)  # phase internal
    target = new_phone()
    assert (
        await client.post("/api/v1/invites", json={"phone": target}, headers=staff.headers)
    ).status_code == 201
    person = await sign_in(client, outbox, target)
    assert person.account["status"] == "waitlisted"
    await set_phase(db, "invite")
    assert (await me(client, person))["status"] == "active"


async def test_drops_admit_in_order_exactly_once_per_id(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    people = [await waitlister(client, outbox) for _ in range(5)]
    first = await drop(db, settings, 2, "launch-1")
    assert (first.admitted, first.already_ran) == (2, False)
    again = await drop(db, settings, 2, "launch-1")
    assert (again.admitted, again.already_ran) == (2, True)
    statuses = [(await me(client, p))["status"] for p in people]
    assert statuses == ["active", "active", "waitlisted", "waitlisted", "waitlisted"]
    assert (await me(client, people[2]))["waitlist"] == {"position": 1, "total": 3}
    # A drop larger than the line admits everyone left, no more.
    rest = await drop(db, settings, 10)
    assert rest.admitted == 3
    assert [(await me(client, p))["status"] for p in people] == ["active"] * 5


async def test_claims_are_idempotent_and_need_an_open_window(
    client: AsyncClient, outbox: Path, db: Database, clock: Clock
) -> None:
    person = await waitlister(client, outbox)
    closed = await client.post("/api/v1/passes/claim", headers=person.headers)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "window_closed"

    import datetime as dt

    opens = clock() + dt.timedelta(minutes=10)
    await open_window(db, 5, clock, opens_at=opens, closes_at=opens + dt.timedelta(minutes=5))
    early = await client.post("/api/v1/passes/claim", headers=person.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "window_closed"
    window = (await client.get("/api/v1/waitlist/me", headers=person.headers)).json()[
        "claim_window"
    ]
    assert window["state"] == "scheduled" and window["remaining"] == 5

    clock.advance(600)
    granted = await client.post("/api/v1/passes/claim", headers=person.headers)
    assert granted.status_code == 200 and granted.json() == {"status": "granted"}
    repeat = await client.post("/api/v1/passes/claim", headers=person.headers)
    assert repeat.status_code == 200 and repeat.json() == {"status": "granted"}
    assert (await me(client, person))["status"] == "active"

    late = await waitlister(client, outbox)
    clock.advance(301)
    after = await client.post("/api/v1/passes/claim", headers=late.headers)
    assert after.status_code == 409 and after.json()["error"]["code"] == "window_closed"


async def test_an_invite_to_a_members_number_looks_like_any_other(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    """Invites do not tell who is a member (59 invite-and-revoke probes used to map numbers)."""
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    someone = await member(client, outbox, db)
    start = (await me(client, inviter))["invites_left"]
    theirs = (await me(client, someone))["invites_left"]
    answers = {}
    for label, phone in (("member", someone.phone), ("stranger", new_phone())):
        created = await client.post(
            "/api/v1/invites", json={"phone": phone}, headers=inviter.headers
        )
        assert created.status_code == 201, created.text
        body = created.json()
        answers[label] = (sorted(body), body["status"])
        revoked = await client.delete(f"/api/v1/invites/{body['id']}", headers=inviter.headers)
        assert revoked.status_code == 204, revoked.text
        again = await client.post("/api/v1/invites", json={"phone": phone}, headers=inviter.headers)
        assert again.status_code == 201 and again.json()["status"] == "pending", again.text
    assert answers["member"] == answers["stranger"]
    assert answers["member"] == (["created_at", "id", "phone", "status", "used_at"], "pending")
    listed = (await client.get("/api/v1/invites", headers=inviter.headers)).json()
    assert [i["status"] for i in listed["invites"]] == ["pending", "pending"]
    assert listed["invites_left"] == start - 2
    # the member is told, once per inviter however often they are invited, with a link
    notices = (await client.get("/api/v1/notifications", headers=someone.headers)).json()
    told = [n for n in notices["notifications"] if n["kind"] == "invited_as_member"]
    assert len(told) == 1 and told[0]["data"] == {"user_id": inviter.id}, notices
    account = await me(client, someone)
    assert account["status"] == "active" and account["invites_left"] == theirs


async def test_invites_a_day_count_revoked_ones(
    client: AsyncClient, outbox: Path, db: Database, clock: Clock
) -> None:
    """Invite-and-revoke gave the invite back each time: 10 a day, revoked ones included."""
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    start = (await me(client, inviter))["invites_left"]
    for _ in range(10):
        made = await client.post(
            "/api/v1/invites", json={"phone": new_phone()}, headers=inviter.headers
        )
        assert made.status_code == 201, made.text
        invite_id = made.json()["id"]
        revoked = await client.delete(f"/api/v1/invites/{invite_id}", headers=inviter.headers)
        assert revoked.status_code == 204

    async def invite() -> Any:
        return await client.post(
            "/api/v1/invites", json={"phone": new_phone()}, headers=inviter.headers
        )

    refused = await invite()
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert "10 invites a day" in refused.json()["error"]["message"]
    wait = int(refused.headers["Retry-After"])
    assert 23 * 3600 < wait <= 24 * 3600 + 1
    assert (await me(client, inviter))["invites_left"] == start  # the refused one spent nothing
    clock.advance(wait)
    again = await invite()
    assert again.status_code == 201, again.text


async def test_members_need_no_pass(client: AsyncClient, outbox: Path, db: Database) -> None:
    person = await member(client, outbox, db)
    await open_window(db, 3)
    response = await client.post("/api/v1/passes/claim", headers=person.headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "already_member"
