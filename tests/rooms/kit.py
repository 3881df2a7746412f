"""Helpers for room tests: members made directly, HTTP calls, and a reference event reducer."""

from __future__ import annotations

import copy
import datetime as dt
import time
from typing import Any

from httpx import AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncSession

from factories import Person, in_transaction, new_phone
from mitalk.accounts import repository as accounts_repo
from mitalk.core.database import Database, utcnow
from mitalk.core.security import hash_token, new_token
from mitalk.network import repository as network_repo

API = "/api/v1"


def early_in_a_minute(needed: float = 20.0) -> None:
    """Wait (if needed) until at least ``needed`` seconds of the current clock minute remain.

    Rate limits count in fixed windows of wall-clock minutes; a test that fills one window and
    expects a refusal must not straddle two.
    """
    left = 60 - time.time() % 60
    if left < needed:
        time.sleep(left + 0.05)


async def make_members(db: Database, count: int, prefix: str = "Member") -> list[Person]:
    """Active members with a session token and a profile name, made the way sign-in would."""

    async def work(session: AsyncSession) -> list[Person]:
        people = []
        for n in range(count):
            phone = new_phone()
            user = await accounts_repo.add_user(session, phone, status="active")
            user.admitted_via, user.activated_at = "open", utcnow()
            profile = await network_repo.ensure_profile(session, user.id)
            profile.name = f"{prefix} {n + 1}"
            token = new_token()
            await accounts_repo.add_auth_session(
                session, user.id, hash_token(token), utcnow() + dt.timedelta(days=1)
            )
            people.append(Person(phone, token, {"id": user.id, "status": "active"}))
        return people

    return await in_transaction(db, work)


async def call(
    client: AsyncClient, person: Person | None, method: str, path: str, body: Any = None
) -> Response:
    """One API call as ``person`` (anonymous if None)."""
    headers = person.headers if person else {}
    return await client.request(method, API + path, json=body, headers=headers)


async def ok(client: AsyncClient, person: Person, method: str, path: str, body: Any = None) -> Any:
    """A call that must succeed; its JSON (None for 204)."""
    response = await call(client, person, method, path, body)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return None if response.status_code == 204 else response.json()


async def fails(
    client: AsyncClient,
    person: Person | None,
    method: str,
    path: str,
    status: int,
    code: str,
    body: Any = None,
) -> None:
    """A call that must fail with this status and error code."""
    response = await call(client, person, method, path, body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.text


async def open_room(client: AsyncClient, host: Person, **body: Any) -> dict[str, Any]:
    """Create a room as ``host``."""
    payload = {"title": "Hiring in fintech", "topics": ["fintech"], "visibility": "open", **body}
    response = await call(client, host, "POST", "/rooms", payload)
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    return room


async def fetch(client: AsyncClient, person: Person, room_id: str) -> dict[str, Any]:
    """The room as ``person`` sees it."""
    room: dict[str, Any] = await ok(client, person, "GET", f"/rooms/{room_id}")
    return room


def participant(room: dict[str, Any], person: Person) -> dict[str, Any] | None:
    """A person's entry in a room's participants, if present."""
    return next((p for p in room["participants"] if p["user_id"] == person.id), None)


def apply_event(room: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Apply one room event to a room as GET returns it (what the web client's store does)."""
    room = copy.deepcopy(room)
    assert event["room_id"] == room["id"]
    people = {p["user_id"]: p for p in room["participants"]}
    kind = event["type"]
    if kind == "room.participant_joined":
        people[event["participant"]["user_id"]] = dict(event["participant"])
    elif kind in ("room.participant_left", "room.removed"):
        del people[event["user_id"]]
    elif kind in ("room.hand_raised", "room.hand_lowered"):
        people[event["user_id"]]["hand_raised"] = kind == "room.hand_raised"
    elif kind == "room.role_changed":
        people[event["user_id"]].update(
            role=event["role"], hand_raised=event["hand_raised"], muted=event["muted"]
        )
    elif kind in ("room.muted", "room.unmuted"):
        people[event["user_id"]]["muted"] = kind == "room.muted"
    elif kind == "room.ended":
        room["status"], room["ended_at"] = "ended", event["at"]
        people = {}
    else:
        raise AssertionError(f"unexpected event {kind}")
    room["participants"] = list(people.values())
    room["listener_count"] = sum(1 for p in people.values() if p["role"] == "listener")
    room["speaker_count"] = sum(1 for p in people.values() if p["role"] != "listener")
    room["seq"] = event["seq"]
    return room


def comparable(room: dict[str, Any]) -> dict[str, Any]:
    """A room with participants in a fixed order and times parsed (order is not state)."""
    out = dict(room)
    out["participants"] = sorted(room["participants"], key=lambda p: p["user_id"])
    for field in ("created_at", "ended_at"):
        if out[field] is not None:
            out[field] = dt.datetime.fromisoformat(out[field])
    return out
