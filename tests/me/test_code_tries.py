"""Whose tries a guess spends (issue 11, items 4 and 10): a stranger cannot use up the tries of
the code its owner is typing, nor replace it; a number's wrong guesses per day are capped
without locking its owner out."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from conftest import Clock
from factories import last_code, new_phone


def stranger(app: FastAPI) -> AsyncClient:
    transport = ASGITransport(app=app, client=("198.51.100.66", 1))
    return AsyncClient(transport=transport, base_url="http://t")


def wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 1_000_000:06d}"


async def ask(client: AsyncClient, phone: str) -> str:
    """Ask for a code; the ticket of the request."""
    response = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert response.status_code == 202, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def guess(client: AsyncClient, phone: str, code: str, ticket: str | None = None) -> int:
    body = {"phone": phone, "code": code} | ({"ticket": ticket} if ticket else {})
    return (await client.post("/api/v1/auth/verify", json=body)).status_code


async def test_a_stranger_cannot_use_up_the_owners_tries(
    app: FastAPI, client: AsyncClient, outbox: Path
) -> None:
    phone = new_phone()
    ticket = await ask(client, phone)
    code = last_code(outbox, phone)
    async with stranger(app) as other:
        outcomes = [await guess(other, phone, wrong(code, n)) for n in range(1, 11)]
    assert outcomes == [400] * 5 + [429] * 5  # the strangers' five tries, then no more
    # The owner's tries are untouched: the right code, with the ticket, signs in.
    assert await guess(client, phone, code, ticket) == 200


async def test_a_strangers_request_does_not_replace_the_owners_code(
    app: FastAPI, client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    phone = new_phone()
    ticket = await ask(client, phone)
    code = last_code(outbox, phone)
    clock.advance(31)
    async with stranger(app) as other:
        await ask(other, phone)  # a second text goes to the owner's phone
    assert len(outbox.read_text().splitlines()) == 2
    assert await guess(client, phone, code, ticket) == 200


async def test_the_holder_has_five_tries_of_its_own(client: AsyncClient, outbox: Path) -> None:
    phone = new_phone()
    ticket = await ask(client, phone)
    code = last_code(outbox, phone)
    assert [await guess(client, phone, wrong(code, n), ticket) for n in range(1, 6)] == [400] * 5
    assert await guess(client, phone, code, ticket) == 429
    # A ticket is bound to its number: it spends no tries of another number's code.
    other_phone = new_phone()
    other_ticket = await ask(client, other_phone)
    assert await guess(client, other_phone, last_code(outbox, other_phone), ticket) == 200
    assert other_ticket != ticket


async def test_past_the_days_cap_each_code_takes_one_try(
    app: FastAPI, client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    settings = app.state.settings
    settings.code_guesses_per_phone_per_day = 3
    phone = new_phone()
    ticket = await ask(client, phone)
    code = last_code(outbox, phone)
    for n in range(1, 4):
        assert await guess(client, phone, wrong(code, n), ticket) == 400
    fourth = await client.post(
        "/api/v1/auth/verify", json={"phone": phone, "code": wrong(code, 4), "ticket": ticket}
    )
    assert fourth.status_code == 400 and "one try" in fourth.json()["error"]["message"]
    assert await guess(client, phone, code, ticket) == 429  # that code is used up
    # A new code is not locked out: typed right, it signs in on its one try.
    clock.advance(31)
    ticket = await ask(client, phone)
    assert await guess(client, phone, last_code(outbox, phone), ticket) == 200
    # But a wrong guess ends a code at once for the rest of the day.
    clock.advance(31)
    ticket = await ask(client, phone)
    code = last_code(outbox, phone)
    assert await guess(client, phone, wrong(code), ticket) == 400
    assert await guess(client, phone, code, ticket) == 429
