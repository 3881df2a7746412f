"""Privacy: no GET endpoint shows another person's phone number, in any format.

Walks every GET operation of the live OpenAPI schema as one member, with the path filled in
with the ids of a second member (their profile, avatar, a room they host, a connection, a card)
and of a waitlister in the first member's contacts, and looks for their numbers in each answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import phonenumbers
from fastapi import FastAPI
from httpx import AsyncClient

from factories import member, set_phase, waitlister
from mitalk.core.database import Database
from network.kit import jpeg_with_gps, upload_avatar
from rooms.kit import ok


def forms_of(phone: str) -> list[str]:
    """The ways a number could leak: E.164 digits, national digits, and as written nationally."""
    parsed = phonenumbers.parse(phone)
    national = str(parsed.national_number)
    return [
        phone.lstrip("+"),
        national,
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
    ]


async def test_no_get_endpoint_reveals_another_persons_phone_number(
    app: FastAPI, client: AsyncClient, db: Database, outbox: Path
) -> None:
    await set_phase(db, "open")
    viewer, target = await member(client, outbox, db), await member(client, outbox, db)
    await set_phase(db, "invite")
    waiting = await waitlister(client, outbox)
    await ok(client, waiting, "PUT", "/me/contacts/findable", {"findable": True})
    await ok(client, target, "PATCH", "/me/profile", {"name": "Tara Target", "skills": ["privacy"]})
    await ok(client, waiting, "PATCH", "/me/profile", {"name": "Walt Waiting"})
    avatar = (await upload_avatar(client, target, jpeg_with_gps())).json()["avatar_url"]
    content_hash = avatar.rsplit("/", 1)[1].removesuffix(".webp")
    room = await ok(
        client, target, "POST", "/rooms", {"title": "Tara's room", "topics": ["privacy"]}
    )
    await ok(client, viewer, "POST", f"/rooms/{room['id']}/join")
    await ok(client, target, "POST", f"/users/{viewer.id}/follow")
    connection = await ok(client, target, "POST", "/connections", {"user_id": viewer.id})
    card = await ok(client, target, "POST", "/cards", {"user_id": viewer.id, "room_id": room["id"]})
    await ok(
        client,
        viewer,
        "PUT",
        "/me/contacts",
        {"hashes": [hashlib.sha256(waiting.phone.encode()).hexdigest()]},
    )
    # notices about the target in the viewer's list, and an upcoming room of theirs
    await ok(client, viewer, "POST", f"/users/{target.id}/follow")
    await ok(
        client, target, "POST", "/rooms", {"title": "Tara again", "topics": ["privacy"]}
    )  # room_started
    await ok(
        client, target, "POST", f"/rooms/{room['id']}/speakers", {"user_id": viewer.id}
    )  # brought_on_stage
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=5)).isoformat()
    upcoming = await ok(
        client, target, "POST", "/rooms", {"title": "Tara later", "starts_at": later}
    )
    await ok(client, viewer, "POST", f"/rooms/{upcoming['id']}/rsvp")
    assert [
        p["person"]["id"]
        for p in (await ok(client, viewer, "GET", "/me/contacts/waiting"))["people"]
    ] == [waiting.id]

    fill = {
        "user_id": target.id, "room_id": room["id"], "connection_id": connection["id"],
        "card_id": card["id"], "content_hash": content_hash,
    }
    secrets = {form for phone in (target.phone, waiting.phone) for form in forms_of(phone)}
    checked, reached_target, bodies = [], 0, {}
    for path, operations in app.openapi()["paths"].items():
        if "get" not in operations:
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), target.id), path)
        # required query parameters, and search words, so that search answers with people
        params = {
            p["name"]: "Tara"
            for p in operations["get"].get("parameters", [])
            if p.get("in") == "query" and (p.get("required") or p["name"] == "q")
        }
        response = await client.get(url, params=params, headers=viewer.headers)
        assert response.status_code < 500, (path, response.text)
        body = response.content.decode("utf-8", "replace")
        leaked = [s for s in secrets if s in body or s.replace(" ", "") in body.replace(" ", "")]
        assert not leaked, f"GET {path} shows a phone number: {leaked}"
        # the number of the account asking may appear (GET /me); nobody else's
        reached_target += target.id in body or waiting.id in body
        checked.append(path)
        bodies[path] = body
    assert reached_target >= 8, checked  # the walk really reached the people it protects
    # the places with the most of the target in them really answered with it
    for path, expected in (
        ("/api/v1/search/people", target.id),
        ("/api/v1/search/rooms", room["id"]),
        ("/api/v1/hallway", upcoming["id"]),
        ("/api/v1/rooms/{room_id}/calendar.ics", "Tara's room"),
        ("/api/v1/notifications", "brought_on_stage"),
        ("/api/v1/notifications", "room_started"),
        ("/api/v1/notifications", "card_offered"),
        ("/api/v1/cards", card["id"]),
        ("/api/v1/me/met", target.id),
    ):
        assert expected in bodies[path], (path, expected, bodies[path][:300])
    assert "/api/v1/users/{user_id}" in checked and "/api/v1/me/contacts/waiting" in checked
