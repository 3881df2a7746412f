"""Letting waitlisted contacts in: uploaded hashed contacts, connections' invites, the quota."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

from httpx import AsyncClient
from sqlalchemy import func, select

from conftest import Clock
from factories import (
    Person,
    in_transaction,
    member,
    new_phone,
    set_phase,
    sign_in,
    waitlister,
)
from mitalk.core.database import Database
from mitalk.network.models import ContactHash, ContactUpload, PhoneDigest
from rooms.kit import call, fails, ok


def sha(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


async def findable(client: AsyncClient, person: Person, wanted: bool = True) -> None:
    """The waitlister asks to be found by members who have their number (or stops)."""
    answer = await ok(client, person, "PUT", "/me/contacts/findable", {"findable": wanted})
    assert answer == {"findable": wanted}


async def test_a_member_lets_in_a_waitlister_from_their_contacts(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "invite")
    ana = await member(client, outbox, db)
    wanted, stranger = await waitlister(client, outbox), await waitlister(client, outbox)
    await ok(client, wanted, "PATCH", "/me/profile", {"name": "Wanda"})
    for person in (wanted, stranger):
        await findable(client, person)
    stored = await ok(
        client,
        ana,
        "PUT",
        "/me/contacts",
        {"hashes": [sha(wanted.phone), sha(new_phone()), sha(wanted.phone).upper()]},
    )
    assert stored == {"count": 2}
    # only keyed hashes are stored: neither the number nor the client's SHA-256
    digests = await in_transaction(db, lambda s: s.scalars(select(ContactHash.digest)))
    kept = list(digests)
    assert (
        len(kept) == 2
        and sha(wanted.phone) not in kept
        and all(wanted.phone not in d for d in kept)
    )
    waiting = await ok(client, ana, "GET", "/me/contacts/waiting")
    assert [(p["person"]["id"], p["via"]) for p in waiting["people"]] == [(wanted.id, "contacts")]
    assert waiting["people"][0]["person"]["profile"]["name"] == "Wanda"
    assert wanted.phone.lstrip("+") not in json.dumps(waiting)
    assert waiting["invites_left"] == 5
    await fails(client, ana, "POST", f"/waitlist/{stranger.id}/let-in", 404, "not_your_contact")
    let_in = await ok(client, ana, "POST", f"/waitlist/{wanted.id}/let-in")
    assert let_in == {"user_id": wanted.id, "status": "active", "invites_left": 4}
    # they are a member now, told like any admission (in-app and by text)
    me = await ok(client, wanted, "GET", "/me")
    assert me["status"] == "active" and me["waitlist"] is None
    assert [
        n["kind"] for n in (await ok(client, wanted, "GET", "/notifications"))["notifications"]
    ] == ["pass_granted"]
    await fails(client, ana, "POST", f"/waitlist/{wanted.id}/let-in", 404, "not_your_contact")
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    # forgetting the upload
    assert (await call(client, ana, "DELETE", "/me/contacts")).status_code == 204
    assert list(await in_transaction(db, lambda s: s.scalars(select(ContactHash.digest)))) == []


async def test_numbers_a_connection_invited_may_be_let_in(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    cid = await member(client, outbox, db)
    eve = await member(client, outbox, db)
    await set_phase(db, "internal")
    invited_phone = new_phone()
    await ok(client, cid, "POST", "/invites", {"phone": invited_phone})
    invited = await sign_in(client, outbox, invited_phone)  # internal phase: invites wait
    assert invited.account["status"] == "waitlisted"
    await findable(client, invited)
    await set_phase(db, "invite")
    # ana is not connected with cid yet: nothing to let in
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    request = await ok(client, ana, "POST", "/connections", {"user_id": cid.id})
    await ok(client, cid, "POST", f"/connections/{request['id']}/accept")
    waiting = await ok(client, ana, "GET", "/me/contacts/waiting")
    assert [(p["person"]["id"], p["via"]) for p in waiting["people"]] == [
        (invited.id, "connection_invite")
    ]
    await fails(client, eve, "POST", f"/waitlist/{invited.id}/let-in", 404, "not_your_contact")
    # a blocked waitlister is not listed either way
    await ok(client, ana, "POST", f"/users/{invited.id}/block")
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    await ok(client, ana, "DELETE", f"/users/{invited.id}/block")
    await ok(client, ana, "POST", f"/waitlist/{invited.id}/let-in")
    assert (await ok(client, invited, "GET", "/me"))["status"] == "active"


async def test_letting_in_spends_invites_and_waits_for_the_invite_phase(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    await set_phase(db, "internal")
    first, second = await waitlister(client, outbox), await waitlister(client, outbox)
    for person in (first, second):
        await findable(client, person)
    await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(first.phone), sha(second.phone)]})
    await fails(client, ana, "POST", f"/waitlist/{first.id}/let-in", 409, "letting_in_closed")
    await set_phase(db, "invite")
    for _ in range(4):  # spend 4 of the 5 invites on other numbers
        await ok(client, ana, "POST", "/invites", {"phone": new_phone()})
    await ok(client, ana, "POST", f"/waitlist/{first.id}/let-in")
    await fails(client, ana, "POST", f"/waitlist/{second.id}/let-in", 403, "no_invites_left")
    assert (await ok(client, second, "GET", "/me"))["status"] == "waitlisted"
    await fails(
        client, first, "POST", f"/waitlist/{second.id}/let-in", 404, "not_your_contact"
    )  # no contacts
    await fails(client, second, "GET", "/me/contacts/waiting", 403, "not_active")


async def test_contact_uploads_are_validated_and_limited(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    for body in (
        {"hashes": ["+4915123456789"]},
        {"hashes": ["ab" * 31]},
        {"hashes": [sha("x")] * 1001},
        {},
    ):
        response = await call(client, ana, "PUT", "/me/contacts", body)
        assert response.status_code == 422, response.text
    assert (
        await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(str(i)) for i in range(1000)]})
    )["count"] == 1000


async def test_only_people_who_asked_to_be_found_are_listed(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    """Uploads and the waiting list do not map numbers to people who did not ask to be found:
    not by contacts, not by a connection's invite."""
    await set_phase(db, "open")
    ana, cid = await member(client, outbox, db), await member(client, outbox, db)
    request = await ok(client, ana, "POST", "/connections", {"user_id": cid.id})
    await ok(client, cid, "POST", f"/connections/{request['id']}/accept")
    await set_phase(db, "internal")
    by_contacts = await waitlister(client, outbox)
    invited_phone = new_phone()
    await ok(client, cid, "POST", "/invites", {"phone": invited_phone})
    by_invite = await sign_in(client, outbox, invited_phone)  # internal phase: invites wait
    await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(by_contacts.phone)]})
    # off by default: nobody is listed, nobody can be let in, no digest of their numbers kept
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    for person in (by_contacts, by_invite):
        assert await ok(client, person, "GET", "/me/contacts/findable") == {"findable": False}
        await fails(client, ana, "POST", f"/waitlist/{person.id}/let-in", 404, "not_your_contact")
    assert list(await in_transaction(db, lambda s: s.scalars(select(PhoneDigest.user_id)))) == []
    # asking to be found (a waitlisted account may) lists them, both ways
    for person in (by_contacts, by_invite):
        await findable(client, person)
        assert await ok(client, person, "GET", "/me/contacts/findable") == {"findable": True}
    listed = (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"]
    assert {(p["person"]["id"], p["via"]) for p in listed} == {
        (by_contacts.id, "contacts"), (by_invite.id, "connection_invite")
    }
    # and stopping takes them off again, with the digest of their number
    await findable(client, by_contacts, False)
    listed = (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"]
    assert [p["person"]["id"] for p in listed] == [by_invite.id]
    kept = list(await in_transaction(db, lambda s: s.scalars(select(PhoneDigest.user_id))))
    assert kept == [by_invite.id]
    await fails(
        client, ana, "POST", f"/waitlist/{by_contacts.id}/let-in", 404, "not_your_contact"
    )


async def test_contact_uploads_are_limited_per_day_and_in_new_numbers(
    client: AsyncClient, db: Database, outbox: Path, clock: Clock
) -> None:
    """5 uploads a day, 3,000 numbers new to the list in 30 days: swapping lists cannot test
    numbers one after another (a binary search found a number in 14 uploads)."""
    await set_phase(db, "open")
    ana = await member(client, outbox, db)

    def numbers(start: int, count: int = 1000) -> list[str]:
        return [sha(f"+4915{n:09d}") for n in range(start, start + count)]

    async def refused(hashes: list[str], why: str) -> int:
        response = await call(client, ana, "PUT", "/me/contacts", {"hashes": hashes})
        assert response.status_code == 429, response.text
        error = response.json()["error"]
        assert error["code"] == "rate_limited" and why in error["message"], error
        return int(response.headers["Retry-After"])

    async def stored() -> int:
        return int((await ok(client, ana, "GET", "/me/contacts/waiting"))["contacts_stored"])

    for n in range(3):  # 3,000 new numbers in 3 uploads
        assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": numbers(n * 1000)}))[
            "count"
        ] == 1000
    # one more new number is past the 30 days' allowance; the list is kept as it was
    wait = await refused(numbers(2000, 999) + numbers(9000, 1), "3000 new numbers in 30 days")
    assert 29 * 86400 < wait <= 30 * 86400 + 1
    assert await stored() == 1000
    # numbers already on the list are not new: a smaller list still goes (the 4th upload)
    assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": numbers(2000, 500)}))[
        "count"
    ] == 500
    # deleting is not an upload, and numbers put back after it are new again
    assert (await call(client, ana, "DELETE", "/me/contacts")).status_code == 204
    await refused(numbers(2000, 500), "3000 new numbers in 30 days")
    assert await stored() == 0
    assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": []}))["count"] == 0  # 5th
    wait = await refused(numbers(0, 1), "5 contact uploads a day")
    assert 23 * 3600 < wait <= 24 * 3600 + 1
    clock.advance(wait)
    # a day later uploads are open again; new numbers 30 days after the first ones
    await refused(numbers(5000, 1), "3000 new numbers in 30 days")
    assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": []}))["count"] == 0
    clock.advance(30 * 86400)
    ana = await sign_in(client, outbox, ana.phone)  # the session ended meanwhile
    assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": numbers(5000)}))[
        "count"
    ] == 1000


async def test_parallel_uploads_are_counted_one_after_another(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    """A burst of uploads at once gets exactly the day's 5 through, not all of them."""
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    answers = await asyncio.gather(
        *(
            call(client, ana, "PUT", "/me/contacts", {"hashes": [sha(f"+49151000000{n:02d}")]})
            for n in range(12)
        )
    )
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 5 + [429] * 7, [r.text for r in answers]
    uploads = await in_transaction(
        db, lambda s: s.scalar(select(func.count()).select_from(ContactUpload))
    )
    assert uploads == 5
