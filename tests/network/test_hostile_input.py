"""Hostile input to the network, search and room endpoints is a 4xx, never a 500, on both
databases: NUL characters in ids (PostgreSQL cannot hold them in text), full-text syntax,
very long and unusual unicode queries."""

from __future__ import annotations

import pytest
from httpx import AsyncClient

from mitalk.core.database import Database
from rooms.kit import call, make_members, ok, open_room

NUL_CALLS = [
    ("GET", "/users/a%00b", None),
    ("POST", "/users/%00/follow", None),
    ("POST", "/users/%00/block", None),
    ("POST", "/connections", {"user_id": "\u0000"}),
    ("POST", "/connections/%00/accept", None),
    ("POST", "/cards", {"user_id": "x\u0000", "room_id": "\u0000"}),
    ("POST", "/cards/%00/accept", None),
    ("GET", "/rooms/%00", None),
    ("POST", "/rooms/%00/rsvp", None),
    ("GET", "/rooms/%00/calendar.ics", None),
    ("POST", "/waitlist/%00/let-in", None),
    ("GET", "/avatars/%00/%00.webp", None),
    ("GET", "/search/people?skill=go%00", None),
    ("GET", "/search/people?industry=%00&open_to=%00", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), NUL_CALLS, ids=[f"{m} {p}" for m, p, _ in NUL_CALLS]
)
async def test_a_nul_character_in_an_id_is_bad_input(
    client: AsyncClient, db: Database, method: str, path: str, body: object
) -> None:
    (ana,) = await make_members(db, 1)
    response = await call(client, ana, method, path, body)
    if path.startswith("/search"):  # a filter nobody matches: no results, or bad input
        assert response.status_code in (200, 422), response.text
    else:
        assert 400 <= response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}


QUERIES = [
    "a" * 200,
    "ä" * 200,
    "x1" * 100,
    'NEAR(a b) OR "x" * : ^ - AND NOT',
    "'; DROP TABLE profiles; --",
    "²³ ⁲ x²",
    "a\u0301",
    "Ａｎａ",
    "ǅ ß ﬁ İ",
    "🙂 中文 العربية",
    "𝟘𝟙",
    "a:* & !b | c <-> d",
    "\\",
    "%_",
]


async def test_search_queries_never_break_either_database(
    client: AsyncClient, db: Database
) -> None:
    ana, ben = await make_members(db, 2)
    await ok(client, ben, "PATCH", "/me/profile", {"name": "Anabel Ärger", "skills": ["c++", "go"]})
    await open_room(client, ben, title="Anabel's room", topics=["c++"])
    for q in QUERIES:
        for kind in ("people", "rooms"):
            response = await client.get(
                f"/api/v1/search/{kind}", params={"q": q}, headers=ana.headers
            )
            assert response.status_code == 200, (q, response.text)
    for q, kind in (("ärger anab", "people"), ("ANABEL", "rooms")):
        found = await client.get(f"/api/v1/search/{kind}", params={"q": q}, headers=ana.headers)
        assert len(found.json()[kind]) == 1, (q, found.text)
    too_long = await client.get(
        "/api/v1/search/people", params={"q": "a" * 201}, headers=ana.headers
    )
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "invalid_request")
