"""Onboarding's suggestions: topics of recent open rooms, and people to follow (contacts already
inside, then people whose profiles speak of your topics), never the followed or the blocked."""

from __future__ import annotations

import hashlib

from httpx import AsyncClient

from mitalk.core.database import Database
from rooms.kit import fails, make_members, ok, open_room
from search.kit import block, follow, set_profile


def sha(phone: str) -> str:
    return hashlib.sha256(phone.encode()).hexdigest()


async def test_topics_of_interest_are_kept_like_skills(client: AsyncClient, db: Database) -> None:
    (ada,) = await make_members(db, 1)
    saved = await ok(
        client, ada, "PATCH", "/me/profile", {"topics": ["Fintech", " fintech ", "AI", "C++"]}
    )
    assert saved["topics"] == ["Fintech", "AI", "C++"]  # as written, duplicates without case
    assert (await ok(client, ada, "GET", "/me"))["profile"]["topics"] == ["Fintech", "AI", "C++"]
    await fails(client, ada, "PATCH", "/me/profile", 422, "invalid_request",
                {"topics": [f"t{i}" for i in range(11)]})  # fmt: skip
    await fails(client, ada, "PATCH", "/me/profile", 422, "invalid_request",
                {"topics": ["<script>"]})  # fmt: skip
    vocabulary = await ok(client, ada, "GET", "/network/vocabulary")
    assert vocabulary["max_topics"] == 10


async def test_popular_topics_come_from_open_rooms_only(client: AsyncClient, db: Database) -> None:
    host, other, newcomer = await make_members(db, 3)
    await open_room(client, host, title="One", topics=["Fintech", "AI"])
    await open_room(client, other, title="Two", topics=["fintech", "Payments"])
    await open_room(client, other, title="Secret", topics=["Mergers"], visibility="closed")
    body = await ok(client, newcomer, "GET", "/search/suggestions")
    assert body["topics"][0] == "fintech"  # the newest way of writing it, counted twice
    assert set(body["topics"]) == {"fintech", "AI", "Payments"}


async def test_people_to_follow_by_contacts_then_by_topics(
    client: AsyncClient, db: Database
) -> None:
    me, friend, expert, both, followed, blocked, stranger, shy = await make_members(db, 8)
    await ok(client, me, "PUT", "/me/contacts",
             {"hashes": [sha(p.phone) for p in (friend, followed, blocked, shy)]})  # fmt: skip
    # Only members who asked to be found by their number are suggested by it (shy did not).
    for person in (friend, followed, blocked):
        await ok(client, person, "PUT", "/me/contacts/findable", {"findable": True})
    await set_profile(db, expert, skills=["Fintech"], headline="Payments at scale")
    await set_profile(db, both, skills=["Fintech", "Lending"], headline="Payments lead")
    await set_profile(db, followed, skills=["Fintech"])
    await set_profile(db, blocked, skills=["Fintech"])
    await set_profile(db, stranger, skills=["Gardening"])
    await follow(db, me, followed)
    await block(db, blocked, me)

    before = await ok(client, me, "GET", "/search/suggestions")
    assert [(p["person"]["id"], p["via"]) for p in before["people"]] == [(friend.id, "contacts")]

    await ok(client, me, "PATCH", "/me/profile", {"topics": ["Fintech", "Lending", "Payments"]})
    after = await ok(client, me, "GET", "/search/suggestions")
    shown = [(p["person"]["id"], p["via"], p["topics"]) for p in after["people"]]
    assert shown[0] == (friend.id, "contacts", [])
    # Most shared topics first; the followed, the blocked and the unrelated never appear.
    assert shown[1:] == [
        (both.id, "topics", ["Fintech", "Lending", "Payments"]),
        (expert.id, "topics", ["Fintech", "Payments"]),
    ]
    assert all("phone" not in p["person"] for p in after["people"])
    # shy turns it on: now suggested by number too
    await ok(client, shy, "PUT", "/me/contacts/findable", {"findable": True})
    again = await ok(client, me, "GET", "/search/suggestions")
    assert {p["person"]["id"] for p in again["people"] if p["via"] == "contacts"} == {
        friend.id, shy.id
    }


async def test_suggestions_need_an_active_member(client: AsyncClient, db: Database) -> None:
    await fails(client, None, "GET", "/search/suggestions", 401, "not_authenticated")
