"""Search on both databases: words as prefixes, ranking, filters, blocks, privacy, bad input,
and that the full-text index (FTS5 / GIN) answers rather than a scan."""

from __future__ import annotations

import datetime as dt

import pytest
from httpx import AsyncClient
from sqlalchemy import text

from factories import in_transaction
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.search import repository as search_repo
from mitalk.search.service import terms_of
from rooms.kit import make_members, ok, open_room
from search.kit import block, set_profile


def names(body: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["name"] for p in body["people"]]


async def people(client: AsyncClient, who, **params: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = await client.get("/api/v1/search/people", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_people_by_name_prefix_company_skill_industry_and_open_to(
    client: AsyncClient, db: Database
) -> None:
    me, anna, annika, bob, carla = await make_members(db, 5)
    await set_profile(db, anna, name="Anna Berg", company="Northwind", industry="Fintech",
                      skills=["Python", "Machine Learning"], open_to=["hiring"])
    await set_profile(db, annika, name="Annika Svensson", company="Contoso", industry="Healthcare",
                      skills=["Go"], open_to=["mentoring"])
    await set_profile(
        db,
        bob,
        name="Bob Stone",
        headline="Works with Anna at Northwind",
        company="Northwind",
        industry="fintech",
        skills=["Rust"],
        open_to=["job_offers"],
    )
    await set_profile(
        db, carla, name="Carla Diaz", company="Google", industry="Search", skills=["Golang"]
    )

    found = names(await people(client, me, q="ann"))
    assert set(found[:2]) == {"Anna Berg", "Annika Svensson"} and found[2:] == ["Bob Stone"]
    # a name match ranks above a mention in someone's headline
    assert names(await people(client, me, q="anna"))[0] == "Anna Berg"
    assert set(names(await people(client, me, q="northwind"))) == {"Anna Berg", "Bob Stone"}
    assert names(await people(client, me, q="anna northwind")) == ["Anna Berg", "Bob Stone"]
    assert names(await people(client, me, q="machine lear")) == ["Anna Berg"]
    # filters are exact (case-insensitive): "go" is not "Golang" nor "Google"
    assert names(await people(client, me, skill="go")) == ["Annika Svensson"]
    assert names(await people(client, me, skill="GO")) == ["Annika Svensson"]
    assert set(names(await people(client, me, industry="FINTECH"))) == {"Anna Berg", "Bob Stone"}
    assert names(await people(client, me, open_to="job_offers")) == ["Bob Stone"]
    assert names(await people(client, me, q="northwind", open_to="hiring")) == ["Anna Berg"]
    assert names(await people(client, me, q="anna", industry="healthcare")) == []


async def test_the_index_follows_profile_changes(client: AsyncClient, db: Database) -> None:
    me, other = await make_members(db, 2)
    await ok(client, other, "PATCH", "/me/profile", {"name": "Zelda Quartz", "company": "Initech"})
    assert names(await people(client, me, q="zel")) == ["Zelda Quartz"]
    await ok(client, other, "PATCH", "/me/profile", {"name": "Yara Quartz"})
    assert names(await people(client, me, q="zelda")) == []
    assert names(await people(client, me, q="yara initech")) == ["Yara Quartz"]


async def test_blocked_people_waitlisters_and_oneself_are_never_found(
    client: AsyncClient, db: Database
) -> None:
    me, blocked_by_me, blocking_me, friend = await make_members(db, 4)
    for person, name in (
        (me, "Quinn Me"),
        (blocked_by_me, "Quinn Blocked"),
        (blocking_me, "Quinn Blocker"),
        (friend, "Quinn Friend"),
    ):
        await set_profile(db, person, name=name, company="Acme")
    await block(db, me, blocked_by_me)
    await block(db, blocking_me, me)
    assert names(await people(client, me, q="quinn")) == ["Quinn Friend"]
    assert set(names(await people(client, friend, q="quinn"))) == {
        "Quinn Me",
        "Quinn Blocked",
        "Quinn Blocker",
    }

    async def waitlist(session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(
            text("UPDATE users SET status = 'waitlisted' WHERE id = :id"), {"id": friend.id}
        )

    await in_transaction(db, waitlist)
    # me blocked them, the friend is waitlisted now: only the unrelated blocker is left
    assert names(await people(client, blocked_by_me, q="quinn acme")) == ["Quinn Blocker"]


async def test_no_phone_number_in_any_result(client: AsyncClient, db: Database) -> None:
    me, other = await make_members(db, 2)
    await set_profile(db, other, name="Pia Phone")
    body = await people(client, me, q="pia")
    assert body["people"][0]["id"] == other.id
    assert other.phone not in str(body) and other.phone[1:] not in str(body)
    assert set(body["people"][0]) == {
        "id",
        "name",
        "headline",
        "company",
        "role",
        "industry",
        "skills",
        "open_to",
    }


@pytest.mark.parametrize(
    "q",
    [
        '"',
        "*",
        "anna*",
        '"anna',
        "NEAR(a b)",
        "a AND OR NOT",
        "-",
        "name:anna",
        "{name}: x",
        "'; DROP TABLE profiles; --",
        "(((",
        "é",
        "a" * 200,
        "\\",
        "%_",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "!:&|",
        "  ",
    ],
)
async def test_bad_queries_never_fail(client: AsyncClient, db: Database, q: str) -> None:
    me, other = await make_members(db, 2)
    await set_profile(db, other, name="Anna Safe")
    for path in ("/api/v1/search/people", "/api/v1/search/rooms"):
        response = await client.get(
            path, params={"q": q, "skill": q[:40], "industry": q[:40]}, headers=me.headers
        )
        assert response.status_code == 200, (q, response.text)
    assert terms_of(q) == [] or all(t.isalnum() for t in terms_of(q))


async def test_empty_queries_find_nothing_and_limits_are_checked(
    client: AsyncClient, db: Database
) -> None:
    me, _other = await make_members(db, 2)
    assert (await people(client, me))["people"] == []
    assert (await people(client, me, q=""))["people"] == []
    for params in ({"limit": "0"}, {"limit": "51"}, {"offset": "-1"}, {"q": "x" * 201}):
        response = await client.get("/api/v1/search/people", params=params, headers=me.headers)
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"


async def test_pages(client: AsyncClient, db: Database) -> None:
    me, *others = await make_members(db, 6)
    for n, person in enumerate(others):
        await set_profile(db, person, name=f"Paging Person{n}")
    first = await people(client, me, q="paging", limit="2")
    second = await people(client, me, q="paging", limit="2", offset=str(first["next_offset"]))
    third = await people(client, me, q="paging", limit="2", offset=str(second["next_offset"]))
    assert (first["next_offset"], second["next_offset"], third["next_offset"]) == (2, 4, None)
    seen = names(first) + names(second) + names(third)
    assert sorted(seen) == [f"Paging Person{n}" for n in range(5)]


async def test_rooms_live_and_scheduled_by_title_and_topic_only_those_one_may_enter(
    client: AsyncClient, db: Database
) -> None:
    me, host, blocked_host, other = await make_members(db, 4)
    live = await open_room(client, host, title="Fintech hiring", topics=["payments"])
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    scheduled = await open_room(
        client, host, title="Payments roadmap", topics=["fintech"], starts_at=soon
    )
    ended = await open_room(client, other, title="Old fintech chat")
    await ok(client, other, "POST", f"/rooms/{ended['id']}/end")
    await open_room(client, other, title="Closed fintech board", visibility="closed")
    await open_room(client, other, title="Social fintech circle", visibility="social")
    await open_room(client, blocked_host, title="Fintech by someone blocked")
    await block(db, blocked_host, me)

    async def rooms(q: str) -> list[str]:
        body = await ok(client, me, "GET", f"/search/rooms?q={q}")
        return [r["title"] for r in body["rooms"]]

    assert set(await rooms("fintech")) == {"Fintech hiring", "Payments roadmap"}
    assert (await rooms("fintech"))[
        0
    ] == "Fintech hiring"  # a title match ranks above a topic match
    assert await rooms("pay roadm") == ["Payments roadmap"]
    hit = (await ok(client, me, "GET", "/search/rooms?q=roadmap"))["rooms"][0]
    assert (hit["id"], hit["status"]) == (scheduled["id"], "scheduled") and hit["starts_at"]
    assert (await ok(client, me, "GET", "/search/rooms?q=hiring"))["rooms"][0]["id"] == live["id"]
    # the host sees their own rooms; the blocked host's room is still theirs to find
    assert "Fintech by someone blocked" in [
        r["title"]
        for r in (await ok(client, blocked_host, "GET", "/search/rooms?q=fintech"))["rooms"]
    ]


async def test_the_full_text_index_answers(client: AsyncClient, db: Database) -> None:
    me, other = await make_members(db, 2)
    await set_profile(db, other, name="Indexed Ida")
    async with unit_of_work(db) as session:
        if db.is_sqlite:
            plan = await search_repo.explain_people(session, me.id, ["ida"])
            assert "VIRTUAL TABLE INDEX" in plan and "search_people" in plan, plan
        else:
            # The planner prefers a scan on a two-row table; forbid that to see that it can use GIN.
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await search_repo.explain_people(session, me.id, ["ida"])
            assert "ix_profiles_search" in plan, plan
    assert utcnow()
