"""An invited number gets a text message, within the sign-in text budgets (issue 15, item 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from httpx import AsyncClient

from conftest import Clock
from factories import Person, member, new_phone, set_phase, sign_in
from mitalk.access.service import invite_text
from mitalk.accounts.models import User
from mitalk.core.database import Database
from mitalk.core.settings import Settings


def texts_to(outbox: Path, phone: str) -> list[dict[str, Any]]:
    """Every text message the console sender wrote to ``phone``, oldest first."""
    if not outbox.exists():
        return []
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    return [m for m in lines if m["to"] == phone]


async def invite(client: AsyncClient, inviter: Person, phone: str) -> Any:
    return await client.post("/api/v1/invites", json={"phone": phone}, headers=inviter.headers)


async def test_the_invited_number_gets_a_text_in_its_countrys_language_else_the_inviters(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    taiwan, germany, france = "+886912345678", new_phone(), "+33612345678"
    for phone in (taiwan, germany):
        made = await invite(client, inviter, phone)
        assert made.status_code == 201, made.text
    (tw,) = texts_to(outbox, taiwan)
    assert tw["body"].startswith("有位存有你號碼的人邀請你加入 Mi Talk"), tw
    assert tw["key"].startswith("invite:")
    (de,) = texts_to(outbox, germany)
    assert de["body"].startswith("Jemand mit deiner Nummer hat dich zu Mi Talk eingeladen"), de
    # A country none of our languages is spoken in: the inviter's language (chosen in the app).
    chosen = await client.put(
        "/api/v1/me/language", json={"language": "zh-Hans"}, headers=inviter.headers
    )
    assert chosen.status_code == 200, chosen.text
    assert (await invite(client, inviter, france)).status_code == 201
    (fr,) = texts_to(outbox, france)
    assert fr["body"].startswith("有位存有你号码的人邀请你加入 Mi Talk"), fr

    # The invited person signs in with that number and is in.
    person = await sign_in(client, outbox, germany)
    assert person.account["status"] == "active"


async def test_a_members_number_gets_no_text_but_spends_the_budget_the_same(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    """The budget counts a member's number as it counts anyone's: a full budget must not tell
    members apart (a member is told in the app instead)."""
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    someone = await member(client, outbox, db)
    stranger = new_phone()
    per_hour = settings.codes_per_phone_per_hour  # someone's own sign-in spent one already
    answers = {}
    for label, phone, room in (("member", someone.phone, per_hour - 1), ("stranger", stranger, 5)):
        for _ in range(room):
            made = await invite(client, inviter, phone)
            assert made.status_code == 201, made.text
            gone = await client.delete(
                f"/api/v1/invites/{made.json()['id']}", headers=inviter.headers
            )
            assert gone.status_code == 204
        full = await invite(client, inviter, phone)
        answers[label] = (full.status_code, full.json()["error"]["code"])
    assert answers == {"member": (429, "rate_limited"), "stranger": (429, "rate_limited")}
    assert len(texts_to(outbox, stranger)) == 5
    assert len(texts_to(outbox, someone.phone)) == 1  # their own sign-in code, no invite text
    notices = (await client.get("/api/v1/notifications", headers=someone.headers)).json()
    assert [n["kind"] for n in notices["notifications"]].count("invited_as_member") == 1


async def test_invites_and_sign_in_codes_share_a_numbers_texts(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings, clock: Clock
) -> None:
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    start = (await client.get("/api/v1/me", headers=inviter.headers)).json()["invites_left"]
    target = new_phone()
    made = await invite(client, inviter, target)
    assert made.status_code == 201
    gone = await client.delete(f"/api/v1/invites/{made.json()['id']}", headers=inviter.headers)
    assert gone.status_code == 204
    # The invite's text counted: the number gets one code fewer this hour.
    for _ in range(settings.codes_per_phone_per_hour - 1):
        asked = await client.post("/api/v1/auth/code", json={"phone": target})
        assert asked.status_code == 202, asked.text
        clock.advance(settings.code_resend_seconds)
    spent = await client.post("/api/v1/auth/code", json={"phone": target})
    assert spent.status_code == 429, spent.text
    refused = await invite(client, inviter, target)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    # Refused, it spent nothing: the invite is not made and the member keeps it.
    account = (await client.get("/api/v1/me", headers=inviter.headers)).json()
    assert account["invites_left"] == start
    listed = (await client.get("/api/v1/invites", headers=inviter.headers)).json()["invites"]
    assert listed == []
    assert len(texts_to(outbox, target)) == settings.codes_per_phone_per_hour


async def test_only_mobile_numbers_are_invited(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    await set_phase(db, "invite")
    inviter = await member(client, outbox, db)
    start = (await client.get("/api/v1/me", headers=inviter.headers)).json()["invites_left"]
    landline = "+493012345678"  # Berlin, fixed line: it could never sign in
    refused = await invite(client, inviter, landline)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "phone_not_mobile"
    assert texts_to(outbox, landline) == []
    account = (await client.get("/api/v1/me", headers=inviter.headers)).json()
    assert account["invites_left"] == start


def test_the_text_carries_the_public_address_when_there_is_one(tmp_path: Path) -> None:
    inviter = User(id="u1", phone="+4915100000001", status="active", language="de")
    plain = Settings(data_dir=tmp_path)
    assert invite_text(plain, inviter, "+85291234567").endswith("用這個號碼登入即可加入。")
    public = Settings(data_dir=tmp_path, public_url="https://talk.example.com")
    hk = invite_text(public, inviter, "+85291234567")
    assert hk.endswith("用這個號碼登入即可加入：https://talk.example.com")
    assert invite_text(public, inviter, "+33612345678").endswith(
        "dann bist du dabei: https://talk.example.com"
    )
    # No words of the inviter's own in it (their name, their headline): the service's text only.
    assert "u1" not in hk
