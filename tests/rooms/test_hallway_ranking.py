"""The hallway's ranking on a small built network: the exact order, and the formula's parts."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from httpx import AsyncClient

from conftest import Clock
from mitalk.core.database import Database
from mitalk.rooms.hallway import Viewer, live_score, upcoming_score
from rooms.kit import make_members, ok, open_room
from search.kit import block, connect, follow, set_profile

MINUTES = 60.0


async def test_a_built_network_gets_the_expected_order(
    client: AsyncClient, db: Database, clock: Clock
) -> None:
    people = await make_members(db, 15)
    viewer, c1, c2, f1, f2, blocked, o1, o2, o3, o4, o5, o6, o7, o8, outsider = people
    await set_profile(db, viewer, skills=["Payments", "Python"], industry="Fintech")
    await set_profile(db, o3, industry="fintech ")
    await connect(db, viewer, c1)
    await connect(db, c2, viewer)
    await follow(db, viewer, f1)
    await follow(db, viewer, f2)
    await block(db, viewer, blocked)
    await block(db, o8, viewer)

    # The viewer once joined a room about hiring: "hiring" is one of their interests now.
    past = await open_room(client, o5, title="Past hiring", topics=["hiring"])
    await ok(client, viewer, "POST", f"/rooms/{past['id']}/join")
    await ok(client, o5, "POST", f"/rooms/{past['id']}/end")

    def later(minutes: float = 10) -> None:
        clock.advance(minutes * 60)

    big = await open_room(client, o2, title="Big room", topics=["general"])
    for person in (o3, o4, o5, o6, o7, o8):
        await ok(client, person, "POST", f"/rooms/{big['id']}/join")
    later()
    await open_room(client, o3, title="Industry match", topics=["general"])
    later()
    await open_room(client, o1, title="Topic match", topics=["payments", "Python", "general"])
    later()
    await open_room(client, f1, title="Followed host", topics=["general"])
    later()
    await open_room(
        client, c2, title="Social by a connection", topics=["general"], visibility="social"
    )
    later()
    duo = await open_room(client, c1, title="Connected duo", topics=["general"])
    await ok(client, c2, "POST", f"/rooms/{duo['id']}/join")
    await ok(client, c1, "POST", f"/rooms/{duo['id']}/speakers", {"user_id": c2.id})
    later()
    await open_room(client, o6, title="Hiring chat", topics=["Hiring"])
    # never shown to the viewer: blocked either way, social without a tie, closed
    await open_room(client, blocked, title="Blocked host", topics=["payments"])
    await open_room(client, o8, title="Host who blocked me", topics=["payments"])
    await open_room(client, o4, title="Social, no tie", topics=["payments"], visibility="social")
    await open_room(client, o7, title="Closed", topics=["payments"], visibility="closed")

    # upcoming
    def starts(**delta: float) -> str:
        return (clock() + dt.timedelta(**delta)).isoformat()

    await open_room(
        client, f2, title="Followed, in 2 days", topics=["general"], starts_at=starts(days=2)
    )
    rsvped = await open_room(
        client, o1, title="RSVP'd, in an hour", topics=["general"], starts_at=starts(hours=1)
    )
    await ok(client, viewer, "POST", f"/rooms/{rsvped['id']}/rsvp")
    await open_room(
        client, o2, title="Python, in 3 hours", topics=["python"], starts_at=starts(hours=3)
    )
    await open_room(client, o7, title="Too far ahead", topics=["python"], starts_at=starts(days=8))
    await open_room(
        client, blocked, title="Blocked, tomorrow", topics=["python"], starts_at=starts(days=1)
    )

    hallway = await ok(client, viewer, "GET", "/hallway")
    live = [r["title"] for r in hallway["live"]]
    assert live == [
        "Connected duo",           # 2 connections on stage: 8 + size 0.79 + fresh 1.78
        "Social by a connection",  # a connection on stage: 4 + 0.5 + 1.59
        "Followed host",           # a followee on stage: 3 + 0.5 + 1.41
        "Topic match",             # payments, python: 3 + 0.5 + 1.26
        "Hiring chat",             # hiring, from a room the viewer joined: 1.5 + 0.5 + 2
        "Industry match",          # host's industry: 1 + 0.5 + 1.12
        "Big room",                # 7 people: 1.5 + fresh 1
    ]
    scores = {r["title"]: r["score"] for r in hallway["live"]}
    assert scores["Connected duo"] == pytest.approx(
        8 + 0.5 * math.log2(3) + 2 * 0.5 ** (10 / MINUTES), abs=0.01
    )
    assert scores["Big room"] == pytest.approx(1.5 + 2 * 0.5 ** (60 / MINUTES), abs=0.01)
    big_row = next(r for r in hallway["live"] if r["title"] == "Big room")
    assert (big_row["listener_count"], big_row["speaker_count"]) == (6, 1)

    assert [r["title"] for r in hallway["upcoming"]] == [
        "RSVP'd, in an hour",  # own RSVP 5 + 0.5 + soon 1.94
        "Followed, in 2 days",  # followed host 3 + soon 0.5
        "Python, in 3 hours",  # python 1.5 + soon 1.83
    ]
    assert hallway["upcoming"][0]["rsvped"] is True and hallway["upcoming"][0]["rsvp_count"] == 1

    # GET /rooms keeps its shape and gives the same order
    assert [r["title"] for r in (await ok(client, viewer, "GET", "/rooms"))["rooms"]] == live
    # someone without ties or blocks sees the open rooms only, the blocked ones included
    other = {r["title"] for r in (await ok(client, outsider, "GET", "/rooms"))["rooms"]}
    assert other == set(live) - {"Social by a connection"} | {"Blocked host", "Host who blocked me"}


def test_the_formula_parts() -> None:
    viewer = Viewer(industry="fintech", interests=frozenset({"payments", "fintech"}))
    base = {
        "connected_on_stage": 0, "followed_on_stage": 0, "topics": [], "host_industry": None,
        "people": 0, "minutes_live": 0.0, "viewer": viewer,
    }
    assert live_score(**base) == pytest.approx(2.0)  # fresh, empty
    assert live_score(**{**base, "minutes_live": 60.0}) == pytest.approx(1.0)  # one half-life
    assert live_score(**{**base, "connected_on_stage": 5}) == pytest.approx(2.0 + 12)  # capped at 3
    assert live_score(**{**base, "followed_on_stage": 1}) == pytest.approx(2.0 + 3)
    assert live_score(**{**base, "topics": ["Payments", "FINTECH", "x"]}) == pytest.approx(2.0 + 3)
    assert live_score(**{**base, "host_industry": " Fintech"}) == pytest.approx(3.0)
    assert live_score(**{**base, "people": 15}) == pytest.approx(2.0 + 2.0)
    up = {
        "host_connected": False, "host_followed": True, "topics": [], "host_industry": None,
        "rsvps": 3, "rsvped": True, "hours_until": 24.0, "viewer": viewer,
    }
    assert upcoming_score(**up) == pytest.approx(3 + 1 + 5 + 1)
