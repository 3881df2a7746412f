"""Sign-in over HTTP: codes, attempts, expiry, cool-downs, rate limits, sessions."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select

from conftest import Clock
from factories import last_code, new_phone, sign_in
from mitalk.accounts.models import AuthSession, LoginCode
from mitalk.core.database import Database


def assert_error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_code_is_sent_as_six_digits_and_stored_only_hashed(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    response = await client.post("/api/v1/auth/code", json={"phone": "+49 151 2345 6789"})
    assert response.status_code == 202
    body = response.json()
    assert len(body.pop("ticket")) >= 32  # the requester's own tries (test_code_tries.py)
    assert body == {"phone": "+4915123456789", "expires_in": 300, "resend_in": 30}
    code = last_code(outbox, "+4915123456789")
    assert len(code) == 6 and code.isdigit()
    async with db.sessions() as session:
        stored = (await session.scalars(select(LoginCode))).all()
    assert len(stored) == 1
    assert code not in stored[0].code_hash and len(stored[0].code_hash) == 64


async def test_verify_signs_in_and_me_shows_the_account(
    client: AsyncClient, outbox: Path, db: Database
) -> None:
    person = await sign_in(client, outbox)
    me = await client.get("/api/v1/me", headers=person.headers)
    assert me.status_code == 200
    body = me.json()
    assert body["phone"] == person.phone and body["id"] == person.id
    assert set(body) == {
        "id", "phone", "status", "is_staff", "invites_left", "waitlist", "profile", "language"
    }
    async with db.sessions() as session:
        tokens = (await session.scalars(select(AuthSession.token_hash))).all()
    assert person.token not in tokens and len(tokens) == 1  # stored hashed


async def test_a_code_works_once(client: AsyncClient, outbox: Path) -> None:
    phone = new_phone()
    await client.post("/api/v1/auth/code", json={"phone": phone})
    code = last_code(outbox, phone)
    first = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
    assert first.status_code == 200
    again = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
    assert_error(again, 400, "invalid_code")


async def test_wrong_codes_run_out_after_five_tries(client: AsyncClient, outbox: Path) -> None:
    phone = new_phone()
    await client.post("/api/v1/auth/code", json={"phone": phone})
    code = last_code(outbox, phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        response = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": wrong})
        assert_error(response, 400, "invalid_code")
        assert str(left) in response.json()["error"]["message"]
    fifth = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": wrong})
    assert_error(fifth, 400, "invalid_code")
    # Even the right code no longer works: the code is used up.
    right = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
    assert_error(right, 429, "too_many_attempts")


async def test_parallel_guesses_cannot_exceed_the_cap(client: AsyncClient, outbox: Path) -> None:
    import asyncio

    phone = new_phone()
    await client.post("/api/v1/auth/code", json={"phone": phone})
    code = last_code(outbox, phone)
    guesses = [f"{(int(code) + i) % 1_000_000:06d}" for i in range(1, 21)]
    responses = await asyncio.gather(
        *(client.post("/api/v1/auth/verify", json={"phone": phone, "code": g}) for g in guesses)
    )
    assert sum(r.status_code == 400 for r in responses) == 5
    assert sum(r.status_code == 429 for r in responses) == 15


async def test_codes_expire_after_five_minutes(
    client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    phone = new_phone()
    await client.post("/api/v1/auth/code", json={"phone": phone})
    code = last_code(outbox, phone)
    clock.advance(301)
    response = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
    assert_error(response, 400, "invalid_code")
    assert "expired" in response.json()["error"]["message"]


async def test_resend_waits_for_the_cool_down_and_replaces_the_code(
    client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    phone = new_phone()
    await client.post("/api/v1/auth/code", json={"phone": phone})
    first = last_code(outbox, phone)
    early = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert_error(early, 429, "rate_limited")
    assert 1 <= int(early.headers["Retry-After"]) <= 31
    clock.advance(31)
    later = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert later.status_code == 202
    second = last_code(outbox, phone)
    if second != first:
        old = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": first})
        assert_error(old, 400, "invalid_code")
    ok = await client.post("/api/v1/auth/verify", json={"phone": phone, "code": second})
    assert ok.status_code == 200


async def test_codes_per_number_are_rate_limited(
    app: FastAPI, client: AsyncClient, clock: Clock
) -> None:
    app.state.settings.code_resend_seconds = 0
    phone = new_phone()
    for _ in range(5):
        assert (await client.post("/api/v1/auth/code", json={"phone": phone})).status_code == 202
    response = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0


async def test_codes_per_address_are_rate_limited(app: FastAPI, client: AsyncClient) -> None:
    app.state.settings.codes_per_address_per_hour = 3
    for _ in range(3):
        assert (
            await client.post("/api/v1/auth/code", json={"phone": new_phone()})
        ).status_code == 202
    response = await client.post("/api/v1/auth/code", json={"phone": new_phone()})
    assert_error(response, 429, "rate_limited")
    # Another address is not held back.
    other = AsyncClient(transport=ASGITransport(app=app, client=("198.51.100.9", 1)), base_url="http://t")
    async with other:
        assert (
            await other.post("/api/v1/auth/code", json={"phone": new_phone()})
        ).status_code == 202


async def test_known_and_unknown_numbers_get_the_same_answer(
    client: AsyncClient, outbox: Path
) -> None:
    known = await sign_in(client, outbox)
    unknown = new_phone()
    a = await client.post("/api/v1/auth/code", json={"phone": known.phone})
    b = await client.post("/api/v1/auth/code", json={"phone": unknown})
    assert a.status_code == b.status_code == 202
    assert {k: v for k, v in a.json().items() if k not in ("phone", "ticket")} == {
        k: v for k, v in b.json().items() if k not in ("phone", "ticket")
    }
    wrong_a = await client.post(
        "/api/v1/auth/verify", json={"phone": known.phone, "code": "000000x"}
    )
    wrong_b = await client.post("/api/v1/auth/verify", json={"phone": unknown, "code": "000000x"})
    assert wrong_a.status_code == wrong_b.status_code == 400
    assert wrong_a.json() == wrong_b.json()


async def test_bad_phone_numbers_get_invalid_phone(client: AsyncClient) -> None:
    for raw in ["12", "+49 151", "hello", ""]:
        assert_error(
            await client.post("/api/v1/auth/code", json={"phone": raw}), 422, "invalid_phone"
        )
    assert_error(
        await client.post("/api/v1/auth/verify", json={"phone": "nope", "code": "123456"}),
        422,
        "invalid_phone",
    )


async def test_logout_kills_the_token(client: AsyncClient, outbox: Path) -> None:
    person = await sign_in(client, outbox)
    other = await sign_in(client, outbox, person.phone) if False else None
    assert (await client.post("/api/v1/auth/logout", headers=person.headers)).status_code == 204
    assert_error(await client.get("/api/v1/me", headers=person.headers), 401, "not_authenticated")
    assert_error(
        await client.post("/api/v1/auth/logout", headers=person.headers), 401, "not_authenticated"
    )
    assert other is None


async def test_logout_ends_only_that_session(
    client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    phone = new_phone()
    laptop = await sign_in(client, outbox, phone)
    clock.advance(31)
    phone_app = await sign_in(client, outbox, phone)
    assert laptop.id == phone_app.id
    assert (await client.post("/api/v1/auth/logout", headers=laptop.headers)).status_code == 204
    assert (await client.get("/api/v1/me", headers=phone_app.headers)).status_code == 200


async def test_sessions_expire(client: AsyncClient, outbox: Path, clock: Clock) -> None:
    person = await sign_in(client, outbox)
    clock.advance(31 * 24 * 3600)
    assert_error(await client.get("/api/v1/me", headers=person.headers), 401, "not_authenticated")


async def test_malformed_bodies_are_4xx_with_the_error_shape(client: AsyncClient) -> None:
    for body in [b"{", b"[]", b'{"phone": 5}', b'{"phone": null}', b"\xff\xfe"]:
        response = await client.post(
            "/api/v1/auth/code", content=body, headers={"content-type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (body, response.text)
        assert set(response.json()["error"]) == {"code", "message"}
    assert_error(await client.get("/api/v1/nowhere"), 404, "not_found")
    assert_error(await client.delete("/api/v1/me"), 405, "method_not_allowed")
