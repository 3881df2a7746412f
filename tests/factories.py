"""Small factories: sign people in the way a user does, arrange state the way the CLI does."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import claims
from mitalk.access import service as access
from mitalk.accounts import repository as accounts_repo
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.security import hash_token, new_token
from mitalk.core.settings import Settings

T = TypeVar("T")

_counter = iter(range(10_000_000))


def new_phone() -> str:
    """A fresh, valid German mobile number in E.164, each in a block of 1,000 of its own.

    Consecutive numbers would all share one block, whose text budget (sms_per_prefix_per_hour)
    a test signing in many people would use up: the counter is spread over the range by a
    multiplier coprime with 10**8 (so numbers never repeat).
    """
    return f"+49151{(next(_counter) * 7_919 + 20_000_000) % 100_000_000:08d}"


def last_code(outbox: Path, phone: str) -> str:
    """The code in the newest text message sent to ``phone``."""
    for line in reversed(outbox.read_text().splitlines()):
        message = json.loads(line)
        if message["to"] == phone:
            match = re.search(r"\b(\d{6})\b", message["body"])
            assert match, message
            return match.group(1)
    raise AssertionError(f"no text message was sent to {phone}")


@dataclass
class Person:
    """A signed-in person as the tests use them."""

    phone: str
    token: str
    account: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def id(self) -> str:
        return str(self.account["id"])


async def sign_in(client: AsyncClient, outbox: Path, phone: str | None = None) -> Person:
    """Ask for a code, read it from the SMS outbox, verify it: a real sign-in."""
    phone = phone or new_phone()
    sent = await client.post("/api/v1/auth/code", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    verified = await client.post(
        "/api/v1/auth/verify", json={"phone": phone, "code": last_code(outbox, phone)}
    )
    assert verified.status_code == 200, verified.text
    body = verified.json()
    return Person(phone=phone, token=body["token"], account=body["account"])


async def in_transaction(db: Database, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run operator work in one committed transaction, as the CLI does."""
    async with unit_of_work(db) as session:
        return await work(session)


async def set_phase(db: Database, phase: str) -> None:
    await in_transaction(db, lambda s: access.change_phase(s, access.Phase(phase), utcnow()))


async def add_staff(db: Database, settings: Settings, phone: str) -> None:
    await in_transaction(db, lambda s: access.add_staff(s, settings, phone, utcnow()))


async def staff_member(
    client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> Person:
    phone = new_phone()
    await add_staff(db, settings, phone)
    return await sign_in(client, outbox, phone)


async def member(client: AsyncClient, outbox: Path, db: Database) -> Person:
    """An active non-staff member (signed in while the phase was open)."""
    previous = await in_transaction(db, access.current_phase)
    await set_phase(db, "open")
    person = await sign_in(client, outbox)
    await set_phase(db, previous.value)
    assert person.account["status"] == "active"
    return person


async def waitlister(client: AsyncClient, outbox: Path) -> Person:
    """A waitlisted account (the phase must be internal or invite)."""
    person = await sign_in(client, outbox)
    assert person.account["status"] == "waitlisted", person.account
    return person


async def bulk_waitlisters(db: Database, settings: Settings, count: int) -> list[Person]:
    """Many waitlisted accounts with session tokens, made directly (fast set-up for races)."""
    from mitalk.accounts import repository as accounts_repo
    from mitalk.core.security import hash_token, new_token

    async def work(session: AsyncSession) -> list[Person]:
        people = []
        now = utcnow()
        for _ in range(count):
            phone = new_phone()
            user = await accounts_repo.add_user(session, phone, status="waitlisted")
            await access.place_new_account(session, settings, user, now)
            assert user.status == "waitlisted"
            token = new_token()
            await accounts_repo.add_auth_session(
                session, user.id, hash_token(token), now + __import__("datetime").timedelta(days=1)
            )
            people.append(Person(phone, token, {"id": user.id, "status": user.status}))
        return people

    return await in_transaction(db, work)


async def another_session(db: Database, person: Person) -> Person:
    """The same account signed in on one more device (a session made as sign-in makes it)."""
    token = new_token()

    async def work(session: AsyncSession) -> None:
        await accounts_repo.add_auth_session(
            session, person.id, hash_token(token), utcnow() + dt.timedelta(days=1)
        )

    await in_transaction(db, work)
    return Person(person.phone, token, person.account)


async def window_shown() -> None:
    """Wait until a window made and opened this instant shows on the claim desks: with no window
    known, a desk re-reads at most every ``claims.WINDOW_RECHECK`` (20 ms), so a claim sent
    within that may still hear 409 window_closed. (A window announced ahead, as in a launch, is
    known before it opens: its first claims never wait; tests/access/test_window_opening.py.)"""
    await asyncio.sleep(2 * claims.WINDOW_RECHECK.total_seconds())
