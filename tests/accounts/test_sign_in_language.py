"""Signing in keeps the browser's language without skipping the admission rules."""

from __future__ import annotations

from pathlib import Path

from httpx import AsyncClient

from factories import last_code, set_phase, waitlister
from mitalk.core.database import Database


async def test_a_waitlister_let_in_meanwhile_signs_in_as_a_member_and_keeps_the_language(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    """Setting the language at sign-in once replaced the admission check (an if/else)."""
    person = await waitlister(client, outbox)  # no Accept-Language: no language yet
    assert person.account["status"] == "waitlisted" and person.account["language"] is None
    await set_phase(db, "open")
    german = {"accept-language": "de-DE,de;q=0.9"}
    sent = await client.post("/api/v1/auth/code", json={"phone": person.phone}, headers=german)
    assert sent.status_code == 202, sent.text
    verified = await client.post(
        "/api/v1/auth/verify",
        json={"phone": person.phone, "code": last_code(outbox, person.phone)},
        headers=german,
    )
    assert verified.status_code == 200, verified.text
    account = verified.json()["account"]
    assert (account["status"], account["language"]) == ("active", "de")
