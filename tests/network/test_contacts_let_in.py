"""Letting waitlisted contacts in: uploaded hashed contacts, connections' invites, the quota."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from httpx import AsyncClient
from sqlalchemy import select

from factories import in_transaction, member, new_phone, set_phase, sign_in, waitlister
from mitalk.core.database import Database
from mitalk.network.models import ContactHash
from rooms.kit import call, fails, ok


def sha(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


async def test_a_member_lets_in_a_waitlister_from_their_contacts(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "invite")
    ana = await member(client, outbox, db)
    wanted, stranger = await waitlister(client, outbox), await waitlister(client, outbox)
    await ok(client, wanted, "PATCH", "/me/profile", {"name": "Wanda"})
    stored = await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(wanted.phone), sha(new_phone()), sha(wanted.phone).upper()]})
    assert stored == {"count": 2}
    # only keyed hashes are stored: neither the number nor the client's SHA-256
    digests = await in_transaction(db, lambda s: s.scalars(select(ContactHash.digest)))
    kept = list(digests)
    assert len(kept) == 2 and sha(wanted.phone) not in kept and all(wanted.phone not in d for d in kept)
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
    assert [n["kind"] for n in (await ok(client, wanted, "GET", "/notifications"))["notifications"]] == ["pass_granted"]
    await fails(client, ana, "POST", f"/waitlist/{wanted.id}/let-in", 404, "not_your_contact")
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    # forgetting the upload
    assert (await call(client, ana, "DELETE", "/me/contacts")).status_code == 204
    assert list(await in_transaction(db, lambda s: s.scalars(select(ContactHash.digest)))) == []


async def test_numbers_a_connection_invited_may_be_let_in(client: AsyncClient, db: Database, outbox: Path) -> None:
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    cid = await member(client, outbox, db)
    eve = await member(client, outbox, db)
    await set_phase(db, "internal")
    invited_phone = new_phone()
    await ok(client, cid, "POST", "/invites", {"phone": invited_phone})
    invited = await sign_in(client, outbox, invited_phone)  # internal phase: invites wait
    assert invited.account["status"] == "waitlisted"
    await set_phase(db, "invite")
    # ana is not connected with cid yet: nothing to let in
    assert (await ok(client, ana, "GET", "/me/contacts/waiting"))["people"] == []
    request = await ok(client, ana, "POST", "/connections", {"user_id": cid.id})
    await ok(client, cid, "POST", f"/connections/{request['id']}/accept")
    waiting = await ok(client, ana, "GET", "/me/contacts/waiting")
    assert [(p["person"]["id"], p["via"]) for p in waiting["people"]] == [(invited.id, "connection_invite")]
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
    await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(first.phone), sha(second.phone)]})
    await fails(client, ana, "POST", f"/waitlist/{first.id}/let-in", 409, "letting_in_closed")
    await set_phase(db, "invite")
    for _ in range(4):  # spend 4 of the 5 invites on other numbers
        await ok(client, ana, "POST", "/invites", {"phone": new_phone()})
    await ok(client, ana, "POST", f"/waitlist/{first.id}/let-in")
    await fails(client, ana, "POST", f"/waitlist/{second.id}/let-in", 403, "no_invites_left")
    assert (await ok(client, second, "GET", "/me"))["status"] == "waitlisted"
    await fails(client, first, "POST", f"/waitlist/{second.id}/let-in", 404, "not_your_contact")  # no contacts
    await fails(client, second, "GET", "/me/contacts/waiting", 403, "not_active")


async def test_contact_uploads_are_validated_and_limited(client: AsyncClient, db: Database, outbox: Path) -> None:
    await set_phase(db, "open")
    ana = await member(client, outbox, db)
    for body in ({"hashes": ["+4915123456789"]}, {"hashes": ["ab" * 31]}, {"hashes": [sha("x")] * 5001}, {}):
        response = await call(client, ana, "PUT", "/me/contacts", body)
        assert response.status_code == 422, response.text
    assert (await ok(client, ana, "PUT", "/me/contacts", {"hashes": [sha(str(i)) for i in range(5000)]}))["count"] == 5000
