"""Every endpoint × {anonymous, waitlisted, member, staff}: the status each one gets.

A route missing from the table fails the test, so a new endpoint cannot ship unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from factories import (
    Person,
    another_session,
    in_transaction,
    member,
    new_phone,
    staff_member,
    waitlister,
)
from mitalk.access import service as access
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings

ROLES = ("anonymous", "waitlisted", "member", "staff")


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: dict[str, int]
    body: Any = None


def expect(anonymous: int, waitlisted: int, member_: int, staff: int) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, waitlisted, member_, staff), strict=True))


CASES = [
    Case("POST", "/api/v1/auth/code", expect(202, 202, 202, 202), {"phone": "{new_phone}"}),
    Case(
        "POST",
        "/api/v1/auth/verify",
        expect(400, 400, 400, 400),
        {"phone": "{new_phone}", "code": "000000"},
    ),
    Case(
        "POST",
        "/api/v1/auth/session",
        expect(400, 400, 400, 400),
        {"phone": "{new_phone}", "code": "000000"},
    ),
    Case("POST", "/api/v1/auth/logout", expect(401, 204, 204, 204)),
    Case("POST", "/api/v1/auth/logout-all", expect(401, 204, 204, 204)),
    Case("GET", "/api/v1/me/sessions", expect(401, 200, 200, 200)),
    # {session_id} stays literal: nobody has such a session
    Case("DELETE", "/api/v1/me/sessions/{session_id}", expect(401, 404, 404, 404)),
    Case("GET", "/api/v1/me", expect(401, 200, 200, 200)),
    Case("PUT", "/api/v1/me/language", expect(401, 200, 200, 200), {"language": "de"}),
    Case("PATCH", "/api/v1/me/profile", expect(401, 200, 200, 200), {"headline": "Builder"}),
    Case("GET", "/api/v1/users/{other_member}", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/users/{other_member}/followers", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/users/{other_member}/following", expect(401, 403, 200, 200)),
    Case("POST", "/api/v1/invites", expect(401, 403, 201, 201), {"phone": "{new_phone}"}),
    Case("GET", "/api/v1/invites", expect(401, 403, 200, 200)),
    Case("DELETE", "/api/v1/invites/{own_invite}", expect(401, 403, 204, 204)),
    # rooms: {room_id} is an open room `other` hosts; the actor joins it and is a listener there
    # (before passes/claim, which lets the waitlisted actor in)
    Case("POST", "/api/v1/rooms", expect(401, 403, 201, 201), {"title": "Office hours"}),
    Case("GET", "/api/v1/rooms", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/rooms/{room_id}", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/rooms/{room_id}/events", expect(401, 403, 200, 200)),
    Case("POST", "/api/v1/rooms/{room_id}/join", expect(401, 403, 200, 200)),
    Case("POST", "/api/v1/rooms/{room_id}/hand", expect(401, 403, 200, 200)),
    Case(
        "POST", "/api/v1/rooms/{room_id}/ping", expect(401, 403, 403, 403),
        {"user_id": "{other_member}"},
    ),
    Case("DELETE", "/api/v1/rooms/{room_id}/hand", expect(401, 403, 200, 200)),
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/speakers",
        expect(401, 403, 403, 403),
        {"user_id": "someone"},
    ),
    Case("DELETE", "/api/v1/rooms/{room_id}/speakers/{other_member}", expect(401, 403, 403, 403)),
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/moderators",
        expect(401, 403, 403, 403),
        {"user_id": "someone"},
    ),
    Case(
        "POST", "/api/v1/rooms/{room_id}/mute", expect(401, 403, 403, 403), {"user_id": "someone"}
    ),
    Case("POST", "/api/v1/rooms/{room_id}/unmute", expect(401, 403, 403, 403)),
    Case(
        "POST", "/api/v1/rooms/{room_id}/remove", expect(401, 403, 403, 403), {"user_id": "someone"}
    ),
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/invites",
        expect(401, 403, 403, 403),
        {"user_id": "someone"},
    ),
    Case("GET", "/api/v1/rooms/{room_id}/moderation", expect(401, 403, 403, 403)),
    # scheduled rooms, search, hallway (part B): {room_id} is live and not the actor's, so
    # starting it is the host's only and an RSVP meets a live room
    Case("POST", "/api/v1/rooms/{room_id}/start", expect(401, 403, 403, 403)),
    Case("POST", "/api/v1/rooms/{room_id}/rsvp", expect(401, 403, 409, 409)),
    Case("DELETE", "/api/v1/rooms/{room_id}/rsvp", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/rooms/{room_id}/calendar.ics", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/hallway", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/search/people", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/search/rooms", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/search/suggestions", expect(401, 403, 200, 200)),
    # media: the actor is a listener, so never gets a seat on stage; these tests run with
    # MITALK_MEDIA=off, so what a listener may do answers 503 media_unavailable after the checks
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/media/offer",
        expect(401, 403, 403, 403),
        {"type": "offer", "sdp": "v=0"},
    ),
    Case("POST", "/api/v1/rooms/{room_id}/media/listen", expect(401, 403, 503, 503)),
    Case("GET", "/api/v1/rooms/{room_id}/media/ice-servers", expect(401, 403, 200, 200)),
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/media/answer",
        expect(401, 403, 503, 503),
        {"type": "answer", "sdp": "v=0"},
    ),
    Case(
        "POST",
        "/api/v1/rooms/{room_id}/media/candidates",
        expect(401, 403, 503, 503),
        {"completed": True},
    ),
    Case("DELETE", "/api/v1/rooms/{room_id}/media", expect(401, 403, 204, 204)),
    Case("POST", "/api/v1/rooms/{room_id}/end", expect(401, 403, 403, 403)),
    Case("POST", "/api/v1/rooms/{room_id}/leave", expect(401, 403, 204, 204)),
    Case("GET", "/api/v1/realtime/schemas", expect(200, 200, 200, 200)),
    # network (part A): before passes/claim, which lets the waitlisted actor in. The actor was in
    # {room_id} with `other` (its host), so they met and may offer a card; {connection_id} and
    # {card_id} are nobody's, so members reach the 404 after the checks. Block and unblock last.
    Case("GET", "/api/v1/network/vocabulary", expect(200, 200, 200, 200)),
    Case("PUT", "/api/v1/me/avatar", expect(401, 415, 415, 415), {"not": "multipart"}),
    Case("DELETE", "/api/v1/me/avatar", expect(401, 204, 204, 204)),
    Case("GET", "/api/v1/avatars/{other_member}/{content_hash}.webp", expect(404, 404, 404, 404)),
    Case("POST", "/api/v1/users/{other_member}/follow", expect(401, 403, 204, 204)),
    Case("DELETE", "/api/v1/users/{other_member}/follow", expect(401, 403, 204, 204)),
    Case("POST", "/api/v1/connections", expect(401, 403, 201, 201), {"user_id": "{other_member}"}),
    Case("GET", "/api/v1/connections", expect(401, 403, 200, 200)),
    Case("POST", "/api/v1/connections/{connection_id}/accept", expect(401, 403, 404, 404)),
    Case("POST", "/api/v1/connections/{connection_id}/decline", expect(401, 403, 404, 404)),
    Case("DELETE", "/api/v1/connections/{connection_id}", expect(401, 403, 404, 404)),
    Case("GET", "/api/v1/rooms/{room_id}/people", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/me/met", expect(401, 403, 200, 200)),
    Case(
        "POST",
        "/api/v1/cards",
        expect(401, 403, 201, 201),
        {"user_id": "{other_member}", "room_id": "{room_id}"},
    ),
    Case("GET", "/api/v1/cards", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/cards/{card_id}", expect(401, 403, 404, 404)),
    Case("GET", "/api/v1/cards/{card_id}/vcard", expect(401, 403, 404, 404)),
    Case("GET", "/api/v1/me/card", expect(401, 403, 200, 200)),
    Case("PUT", "/api/v1/me/card", expect(401, 403, 200, 200), {"share_links": True}),
    Case("POST", "/api/v1/cards/{card_id}/accept", expect(401, 403, 404, 404)),
    Case("POST", "/api/v1/cards/{card_id}/decline", expect(401, 403, 404, 404)),
    Case("PUT", "/api/v1/me/contacts", expect(401, 403, 200, 200), {"hashes": ["ab" * 32]}),
    Case("GET", "/api/v1/me/contacts/waiting", expect(401, 403, 200, 200)),
    Case("GET", "/api/v1/me/contacts/findable", expect(401, 200, 200, 200)),
    Case("PUT", "/api/v1/me/contacts/findable", expect(401, 200, 200, 200), {"findable": True}),
    Case("DELETE", "/api/v1/me/contacts", expect(401, 403, 204, 204)),
    Case("POST", "/api/v1/waitlist/{other_member}/let-in", expect(401, 403, 404, 404)),
    Case("GET", "/api/v1/me/blocks", expect(401, 403, 200, 200)),
    Case("POST", "/api/v1/users/{other_member}/block", expect(401, 403, 204, 204)),
    Case("DELETE", "/api/v1/users/{other_member}/block", expect(401, 403, 204, 204)),
    Case("GET", "/api/v1/waitlist/me", expect(401, 200, 409, 409)),
    Case("GET", "/api/v1/passes/window", expect(401, 200, 200, 200)),
    Case("POST", "/api/v1/passes/claim", expect(401, 200, 409, 409)),
    Case("GET", "/api/v1/notifications", expect(401, 200, 200, 200)),
    Case("POST", "/api/v1/notifications/read", expect(401, 204, 204, 204), {"up_to": 1000}),
    # Last: staff's suspension of `other` takes them out of the room the cases above use.
    Case("GET", "/api/v1/admin/users/{other_member}/suspend", expect(401, 403, 403, 200)),
    Case(
        "POST",
        "/api/v1/admin/users/{other_member}/suspend",
        expect(401, 403, 403, 200),
        {"reason": "Spam in rooms"},
    ),
    Case("DELETE", "/api/v1/admin/users/{other_member}/suspend", expect(401, 403, 403, 200)),
]
# Operator endpoints take the operator token, not a user's: every user role is refused alike.
OPERATOR_ONLY = {("GET", "/api/v1/admin/waitlist/stats")}
PUBLIC_OPERATIONS = {("GET", "/healthz")} | OPERATOR_ONLY


def test_the_table_covers_every_route(app: FastAPI) -> None:
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    table = {
        (
            c.method,
            c.path.replace("{other_member}", "{user_id}").replace("{own_invite}", "{invite_id}"),
        )
        for c in CASES
    }
    assert routes - PUBLIC_OPERATIONS == table


@pytest.mark.parametrize("role", ROLES)
async def test_who_may_do_what(
    role: str, client: AsyncClient, outbox: Path, db: Database, settings: Settings
) -> None:
    other = await member(client, outbox, db)
    room = await client.post("/api/v1/rooms", json={"title": "Open room"}, headers=other.headers)
    assert room.status_code == 201, room.text
    people: dict[str, Person | None] = {
        "anonymous": None,
        "waitlisted": await waitlister(client, outbox),
        "member": await member(client, outbox, db),
        "staff": await staff_member(client, outbox, db, settings),
    }
    # Opened after the waitlister signed up: accounts made after a window was announced may
    # not claim from it (403 not_eligible).
    await in_transaction(db, lambda s: access.open_window(s, 100, utcnow()))
    actor = people[role]
    if role in ("member", "staff"):  # named, as onboarding asks (a hand or a card needs a name)
        assert actor is not None
        named = await client.patch("/api/v1/me/profile", json={"name": role}, headers=actor.headers)
        assert named.status_code == 200, named.text
    failures = []
    for case in CASES:
        headers = actor.headers if actor else {}
        path = case.path.replace("{other_member}", other.id).replace("{room_id}", room.json()["id"])
        if "{own_invite}" in path:
            owner = actor if role in ("member", "staff") else other
            made = await client.post(
                "/api/v1/invites", json={"phone": new_phone()}, headers=owner.headers
            )
            assert made.status_code == 201, made.text
            path = path.replace("{own_invite}", made.json()["id"])
        body = None
        if case.body is not None:
            fill = {
                "{new_phone}": new_phone,
                "{other_member}": lambda: other.id,
                "{room_id}": lambda: room.json()["id"],
            }
            body = {
                k: (fill[v]() if isinstance(v, str) and v in fill else v)
                for k, v in case.body.items()
            }
        if case.path.startswith("/api/v1/auth/logout") and actor is not None:
            continue  # checked last, below: it ends the session the other cases need
        response = await client.request(case.method, path, json=body, headers=headers)
        if response.status_code != case.expected[role]:
            failures.append(
                f"{case.method} {case.path}: {response.status_code} {response.text[:120]}"
            )
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text
    if actor is not None:
        response = await client.post("/api/v1/auth/logout", headers=actor.headers)
        if response.status_code != 204:
            failures.append(f"POST /api/v1/auth/logout: {response.status_code}")
        second = await another_session(db, actor)
        response = await client.post("/api/v1/auth/logout-all", headers=second.headers)
        if response.status_code != 204:
            failures.append(f"POST /api/v1/auth/logout-all: {response.status_code}")
    else:
        for path in ("/api/v1/auth/logout", "/api/v1/auth/logout-all"):
            response = await client.post(path)
            if response.status_code != 401:
                failures.append(f"POST {path}: {response.status_code}")
    assert not failures, f"{role}: " + "; ".join(failures)
