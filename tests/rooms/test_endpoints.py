"""Rooms over HTTP, every rule, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from httpx import AsyncClient

from factories import member, waitlister
from mitalk.core.database import Database
from mitalk.core.settings import Settings
from rooms.kit import (
    call,
    early_in_a_minute,
    fails,
    fetch,
    make_members,
    ok,
    open_room,
    participant,
)

# --- create ----------------------------------------------------------------------------------


async def test_the_creator_is_the_moderator_on_stage(client: AsyncClient, db: Database) -> None:
    (host,) = await make_members(db, 1, "Ada")
    room = await open_room(
        client,
        host,
        title="  Hiring in fintech ",
        topics=["Fintech", "fintech", "AI"],
        visibility="open",
    )
    assert room["title"] == "Hiring in fintech"
    assert room["topics"] == ["Fintech", "AI"]  # duplicates dropped, case-insensitively
    assert room["visibility"] == "open" and room["status"] == "live" and room["host_id"] == host.id
    assert room["participants"] == [
        {
            "user_id": host.id,
            "name": "Ada 1",
            "avatar_url": None,
            "role": "moderator",
            "hand_raised": False,
            "muted": False,
        }
    ]
    assert (room["listener_count"], room["speaker_count"]) == (0, 1)
    assert room["seq"] == 2  # room.created, room.participant_joined


async def test_room_input_is_validated(client: AsyncClient, db: Database) -> None:
    (host,) = await make_members(db, 1)
    for body in (
        {"title": "", "topics": []},
        {"title": "   ", "topics": []},
        {"title": "x" * 121},
        {"title": "ok", "topics": ["a", "b", "c", "d", "e", "f"]},
        {"title": "ok", "topics": [""]},
        {"title": "ok", "visibility": "company"},
        {"title": "ok", "host_id": "someone"},
    ):
        await fails(client, host, "POST", "/rooms", 422, "invalid_request", body)
    assert (await open_room(client, host, title="x" * 120, topics=list("abcde")))["topics"] == list(
        "abcde"
    )


async def test_titles_and_topics_refuse_control_characters_and_bidi_overrides(
    client: AsyncClient, db: Database
) -> None:
    (host,) = await make_members(db, 1)
    for bad in (
        "nul\x00byte", "two\nlines", "carriage\rreturn", "tab\tbed", "bell\x07", "c1\x85next",
        "line\u2028separator", "invoice\u202egnp.exe", "left\u202aembed", "iso\u2066late",
        "pop\u2069", "over\u202dride",
    ):
        for body in ({"title": bad}, {"title": "ok", "topics": ["fine", bad]}):
            response = await call(client, host, "POST", "/rooms", body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()["error"]
            assert error["code"] == "invalid_request", error
            assert "control characters" in error["message"] or "bidirectional" in error[
                "message"
            ], error
    # refused, not stripped: nothing was created; right-to-left text itself is welcome
    assert (await ok(client, host, "GET", "/rooms"))["rooms"] == []
    room = await open_room(client, host, title="שלום עולם مرحبا", topics=["\u200fعربي"])
    assert room["title"] == "שלום עולם مرحبا" and room["topics"] == ["\u200fعربي"]


async def test_only_active_members_may_create_or_join(
    client: AsyncClient, db: Database, outbox: Path
) -> None:
    (host,) = await make_members(db, 1)
    room = await open_room(client, host)
    waiting = await waitlister(client, outbox)
    await fails(client, None, "POST", "/rooms", 401, "not_authenticated", {"title": "t"})
    await fails(client, waiting, "POST", "/rooms", 403, "not_active", {"title": "t"})
    await fails(client, waiting, "POST", f"/rooms/{room['id']}/join", 403, "not_active")
    signed_in = await member(client, outbox, db)
    assert participant(await ok(client, signed_in, "POST", f"/rooms/{room['id']}/join"), signed_in)


async def test_live_rooms_per_host_are_limited(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    settings.room_max_live_per_host = 2
    host, other = await make_members(db, 2)
    first = await open_room(client, host)
    await open_room(client, host)
    await fails(client, host, "POST", "/rooms", 409, "too_many_live_rooms", {"title": "third"})
    await open_room(client, other)  # the limit is per host
    await ok(client, host, "POST", f"/rooms/{first['id']}/end")
    await open_room(client, host)  # ended rooms do not count


async def test_concurrent_creates_respect_the_host_limit(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    settings.room_max_live_per_host = 1
    (host,) = await make_members(db, 1)
    answers = await asyncio.gather(
        *(call(client, host, "POST", "/rooms", {"title": f"r{i}"}) for i in range(4))
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409]


# --- hallway, get ----------------------------------------------------------------------------


async def test_the_hallway_lists_live_rooms_one_may_enter_with_counts(
    client: AsyncClient, db: Database
) -> None:
    host, a, b, outsider = await make_members(db, 4)
    busy = await open_room(client, host, title="Busy")
    quiet = await open_room(client, a, title="Quiet")
    closed = await open_room(client, host, title="Closed", visibility="closed")
    social = await open_room(client, b, title="Social", visibility="social")
    for person in (a, b):
        await ok(client, person, "POST", f"/rooms/{busy['id']}/join")
    await ok(client, host, "POST", f"/rooms/{busy['id']}/speakers", {"user_id": a.id})

    hallway = (await ok(client, outsider, "GET", "/rooms"))["rooms"]
    assert [r["title"] for r in hallway] == ["Busy", "Quiet"]  # fullest first; no closed or social
    assert (hallway[0]["listener_count"], hallway[0]["speaker_count"]) == (1, 2)
    assert (hallway[1]["listener_count"], hallway[1]["speaker_count"]) == (0, 1)
    assert "participants" not in hallway[0]
    # Who is on stage, by name, moderators first; listeners are not listed.
    assert [(p["name"], p["role"]) for p in hallway[0]["speakers"]] == [
        ("Member 1", "moderator"), ("Member 2", "speaker")
    ]
    assert (
        hallway[1]["speakers"][0]["user_id"] == a.id
        and hallway[1]["speakers"][0]["avatar_url"] is None
    )

    titles = {r["title"] for r in (await ok(client, host, "GET", "/rooms"))["rooms"]}
    assert titles == {"Busy", "Quiet", "Closed"}  # a host sees their own closed room

    await ok(client, host, "POST", f"/rooms/{closed['id']}/invites", {"user_id": outsider.id})
    await ok(client, b, "POST", f"/rooms/{social['id']}/invites", {"user_id": outsider.id})
    titles = {r["title"] for r in (await ok(client, outsider, "GET", "/rooms"))["rooms"]}
    assert titles == {"Busy", "Quiet", "Closed", "Social"}

    await ok(client, a, "POST", f"/rooms/{quiet['id']}/end")
    await ok(client, host, "POST", f"/rooms/{busy['id']}/remove", {"user_id": b.id})
    titles = {r["title"] for r in (await ok(client, b, "GET", "/rooms"))["rooms"]}
    assert titles == {"Social"}  # ended rooms and rooms one was removed from are gone


async def test_get_room_shows_participants_and_hides_closed_rooms(
    client: AsyncClient, db: Database
) -> None:
    host, guest, stranger = await make_members(db, 3)
    room = await open_room(client, host, visibility="closed")
    await fails(client, stranger, "GET", f"/rooms/{room['id']}", 403, "not_invited")
    await fails(client, stranger, "GET", "/rooms/nope", 404, "room_not_found")
    await ok(client, host, "POST", f"/rooms/{room['id']}/invites", {"user_id": guest.id})
    await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
    seen = await fetch(client, guest, room["id"])
    assert [set(p) for p in seen["participants"]] == [
        {"user_id", "name", "avatar_url", "role", "hand_raised", "muted"}
    ] * 2
    assert [(p["role"], p["muted"]) for p in seen["participants"]] == [
        ("moderator", False),
        ("listener", True),
    ]


# --- join, leave -----------------------------------------------------------------------------


async def test_join_as_listener_twice_changes_nothing(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host)
    joined = await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
    assert participant(joined, guest) == {
        "user_id": guest.id,
        "name": "Member 2",
        "avatar_url": None,
        "role": "listener",
        "hand_raised": False,
        "muted": True,
    }
    again = await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
    assert again["seq"] == joined["seq"] and len(again["participants"]) == 2


async def test_closed_and_social_rooms_admit_only_the_host_and_invited(
    client: AsyncClient, db: Database
) -> None:
    host, guest, stranger, co_host = await make_members(db, 4)
    for visibility in ("closed", "social"):
        room = await open_room(client, host, visibility=visibility)
        await fails(client, guest, "POST", f"/rooms/{room['id']}/join", 403, "not_invited")
        await ok(client, host, "POST", f"/rooms/{room['id']}/invites", {"user_id": guest.id})
        await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
        await fails(client, stranger, "POST", f"/rooms/{room['id']}/join", 403, "not_invited")
        await ok(client, host, "POST", f"/rooms/{room['id']}/end")
    # only moderators invite
    room = await open_room(client, co_host, visibility="closed")
    await fails(
        client,
        guest,
        "POST",
        f"/rooms/{room['id']}/invites",
        409,
        "not_in_room",
        {"user_id": stranger.id},
    )
    await ok(client, co_host, "POST", f"/rooms/{room['id']}/invites", {"user_id": guest.id})
    await ok(client, guest, "POST", f"/rooms/{room['id']}/join")
    await fails(
        client,
        guest,
        "POST",
        f"/rooms/{room['id']}/invites",
        403,
        "not_a_moderator",
        {"user_id": stranger.id},
    )
    await fails(
        client,
        co_host,
        "POST",
        f"/rooms/{room['id']}/invites",
        404,
        "user_not_found",
        {"user_id": "nobody"},
    )


async def test_a_room_has_a_participant_limit(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    settings.room_max_participants = 2
    host, first, second = await make_members(db, 3)
    room = await open_room(client, host)
    await ok(client, first, "POST", f"/rooms/{room['id']}/join")
    await fails(client, second, "POST", f"/rooms/{room['id']}/join", 409, "room_full")
    await ok(client, first, "POST", f"/rooms/{room['id']}/leave")
    await ok(client, second, "POST", f"/rooms/{room['id']}/join")


async def test_concurrent_joins_never_exceed_the_limit(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    settings.room_max_participants = 3
    host, *guests = await make_members(db, 7)
    room = await open_room(client, host)
    answers = await asyncio.gather(
        *(call(client, g, "POST", f"/rooms/{room['id']}/join") for g in guests)
    )
    assert sorted(r.status_code for r in answers) == [200, 200] + [409] * 4
    assert len((await fetch(client, host, room["id"]))["participants"]) == 3


async def test_rejoining_keeps_the_role_held(client: AsyncClient, db: Database) -> None:
    host, speaker = await make_members(db, 2)
    room = await open_room(client, host)
    await ok(client, speaker, "POST", f"/rooms/{room['id']}/join")
    await ok(client, host, "POST", f"/rooms/{room['id']}/speakers", {"user_id": speaker.id})
    await ok(client, speaker, "POST", f"/rooms/{room['id']}/leave")
    assert participant(await fetch(client, host, room["id"]), speaker) is None
    back = await ok(client, speaker, "POST", f"/rooms/{room['id']}/join")
    assert participant(back, speaker)["role"] == "speaker"  # type: ignore[index]


async def test_leave_needs_to_be_in_the_room(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    room = await open_room(client, host)
    await fails(client, guest, "POST", f"/rooms/{room['id']}/leave", 409, "not_in_room")
    await fails(client, guest, "POST", "/rooms/nope/leave", 404, "room_not_found")


async def test_when_the_last_moderator_leaves_the_longest_standing_speaker_takes_over(
    client: AsyncClient, db: Database
) -> None:
    host, early, late, listener = await make_members(db, 4)
    room = await open_room(client, host)
    rid = room["id"]
    for person in (late, early, listener):  # `late` joins first but comes on stage second
        await ok(client, person, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": early.id})
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": late.id})
    await ok(client, host, "POST", f"/rooms/{rid}/leave")
    after = await fetch(client, listener, rid)
    assert participant(after, early)["role"] == "moderator"  # type: ignore[index]
    assert participant(after, late)["role"] == "speaker"  # type: ignore[index]
    log = (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))[
        "entries"
    ]  # host may always read it
    assert (log[-1]["action"], log[-1]["actor_id"], log[-1]["target_id"]) == (
        "hand_over",
        None,
        early.id,
    )
    # the new moderator can moderate
    await ok(client, early, "POST", f"/rooms/{rid}/mute", {"user_id": late.id})


async def test_when_the_last_moderator_leaves_without_speakers_the_room_ends(
    client: AsyncClient, db: Database
) -> None:
    host, listener = await make_members(db, 2)
    room = await open_room(client, host)
    rid = room["id"]
    await ok(client, listener, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/leave")
    ended = await fetch(client, listener, rid)
    assert ended["status"] == "ended" and ended["participants"] == [] and ended["ended_at"]
    await fails(client, listener, "POST", f"/rooms/{rid}/join", 409, "room_ended")
    log = (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))["entries"]
    assert (log[-1]["action"], log[-1]["actor_id"]) == ("end", None)


async def test_another_moderator_remaining_means_no_hand_over(
    client: AsyncClient, db: Database
) -> None:
    host, co, speaker = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    for person in (co, speaker):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
        await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": person.id})
    await ok(client, host, "POST", f"/rooms/{rid}/moderators", {"user_id": co.id})
    await ok(client, host, "POST", f"/rooms/{rid}/leave")
    assert participant(await fetch(client, co, rid), speaker)["role"] == "speaker"  # type: ignore[index]


# --- hands -----------------------------------------------------------------------------------


async def test_listeners_raise_and_lower_hands(client: AsyncClient, db: Database) -> None:
    host, guest, outsider = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    await fails(client, outsider, "POST", f"/rooms/{rid}/hand", 409, "not_in_room")
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    assert (await ok(client, guest, "POST", f"/rooms/{rid}/hand"))["hand_raised"] is True
    seq = (await fetch(client, host, rid))["seq"]
    assert (await ok(client, guest, "POST", f"/rooms/{rid}/hand"))["hand_raised"] is True
    assert (await fetch(client, host, rid))["seq"] == seq  # raising twice is no new event
    assert participant(await fetch(client, host, rid), guest)["hand_raised"] is True  # type: ignore[index]
    assert (await ok(client, guest, "DELETE", f"/rooms/{rid}/hand"))["hand_raised"] is False
    await fails(client, host, "POST", f"/rooms/{rid}/hand", 409, "already_on_stage")


# --- stage -----------------------------------------------------------------------------------


async def test_moderators_bring_people_on_stage_and_back(client: AsyncClient, db: Database) -> None:
    host, guest, other, outsider = await make_members(db, 4)
    rid = (await open_room(client, host))["id"]
    for person in (guest, other):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
    await ok(client, guest, "POST", f"/rooms/{rid}/hand")
    await fails(
        client,
        other,
        "POST",
        f"/rooms/{rid}/speakers",
        403,
        "not_a_moderator",
        {"user_id": guest.id},
    )
    await fails(
        client,
        host,
        "POST",
        f"/rooms/{rid}/speakers",
        409,
        "target_not_in_room",
        {"user_id": outsider.id},
    )
    on_stage = await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
    assert (on_stage["role"], on_stage["hand_raised"], on_stage["muted"]) == (
        "speaker",
        False,
        True,
    )
    await fails(
        client, other, "DELETE", f"/rooms/{rid}/speakers/{guest.id}", 403, "not_a_moderator"
    )
    back = await ok(client, host, "DELETE", f"/rooms/{rid}/speakers/{guest.id}")
    assert (back["role"], back["muted"]) == ("listener", True)
    # a speaker may step down by themselves
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": other.id})
    assert (await ok(client, other, "DELETE", f"/rooms/{rid}/speakers/{other.id}"))[
        "role"
    ] == "listener"
    log = [
        (e["action"], e["target_id"])
        for e in (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))["entries"]
    ]
    assert log == [
        ("bring_on_stage", guest.id), ("move_off_stage", guest.id), ("bring_on_stage", other.id)
    ]


async def test_moderators_are_not_moved_back_and_the_last_cannot_step_down(
    client: AsyncClient, db: Database
) -> None:
    host, co = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await fails(client, host, "DELETE", f"/rooms/{rid}/speakers/{host.id}", 409, "last_moderator")
    await ok(client, co, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": co.id})
    await ok(client, host, "POST", f"/rooms/{rid}/moderators", {"user_id": co.id})
    await fails(
        client, host, "DELETE", f"/rooms/{rid}/speakers/{co.id}", 409, "target_is_moderator"
    )
    assert (await ok(client, co, "DELETE", f"/rooms/{rid}/speakers/{co.id}"))["role"] == "listener"


async def test_the_stage_has_a_limit(client: AsyncClient, db: Database, settings: Settings) -> None:
    settings.room_max_on_stage = 2
    host, a, b = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    for person in (a, b):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": a.id})
    await fails(
        client, host, "POST", f"/rooms/{rid}/speakers", 409, "stage_full", {"user_id": b.id}
    )


async def test_only_speakers_become_moderators(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await fails(
        client, host, "POST", f"/rooms/{rid}/moderators", 409, "not_on_stage", {"user_id": guest.id}
    )
    await fails(
        client,
        guest,
        "POST",
        f"/rooms/{rid}/moderators",
        403,
        "not_a_moderator",
        {"user_id": guest.id},
    )
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
    assert (await ok(client, host, "POST", f"/rooms/{rid}/moderators", {"user_id": guest.id}))[
        "role"
    ] == "moderator"
    # the new moderator moderates
    await ok(client, guest, "POST", f"/rooms/{rid}/mute", {"user_id": host.id})


# --- mute ------------------------------------------------------------------------------------


async def test_mutes(client: AsyncClient, db: Database) -> None:
    host, speaker, listener = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    for person in (speaker, listener):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": speaker.id})
    assert (await ok(client, speaker, "POST", f"/rooms/{rid}/unmute"))["muted"] is False
    await fails(
        client, speaker, "POST", f"/rooms/{rid}/mute", 403, "not_a_moderator", {"user_id": host.id}
    )
    assert (await ok(client, host, "POST", f"/rooms/{rid}/mute", {"user_id": speaker.id}))[
        "muted"
    ] is True
    # the speaker may unmute after a moderator's mute; a listener never can
    assert (await ok(client, speaker, "POST", f"/rooms/{rid}/unmute"))["muted"] is False
    await fails(client, listener, "POST", f"/rooms/{rid}/unmute", 403, "listeners_cannot_unmute")
    await fails(
        client, host, "POST", f"/rooms/{rid}/mute", 409, "not_on_stage", {"user_id": listener.id}
    )
    # anyone on stage may mute themselves (not a moderation action)
    assert (await ok(client, speaker, "POST", f"/rooms/{rid}/mute", {"user_id": speaker.id}))[
        "muted"
    ] is True
    log = [
        (e["action"], e["target_id"])
        for e in (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))["entries"]
    ]
    assert log == [("bring_on_stage", speaker.id), ("mute", speaker.id)]
    assert participant(await fetch(client, host, rid), speaker)["muted"] is True  # type: ignore[index]


# --- remove, end -----------------------------------------------------------------------------


async def test_removed_people_cannot_come_back(client: AsyncClient, db: Database) -> None:
    host, troll, other = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    for person in (troll, other):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
    await fails(
        client, other, "POST", f"/rooms/{rid}/remove", 403, "not_a_moderator", {"user_id": troll.id}
    )
    await fails(
        client,
        host,
        "POST",
        f"/rooms/{rid}/remove",
        409,
        "cannot_remove_self",
        {"user_id": host.id},
    )
    await ok(client, host, "POST", f"/rooms/{rid}/remove", {"user_id": troll.id})
    assert participant(await fetch(client, host, rid), troll) is None
    await fails(client, troll, "POST", f"/rooms/{rid}/join", 403, "removed_from_room")
    await fails(client, troll, "GET", f"/rooms/{rid}", 403, "removed_from_room")
    await fails(client, troll, "POST", f"/rooms/{rid}/hand", 403, "removed_from_room")
    await fails(
        client,
        host,
        "POST",
        f"/rooms/{rid}/remove",
        409,
        "target_not_in_room",
        {"user_id": troll.id},
    )
    log = (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))["entries"]
    assert [(e["action"], e["actor_id"], e["target_id"]) for e in log] == [
        ("remove", host.id, troll.id)
    ]


async def test_only_the_host_removes_moderators(client: AsyncClient, db: Database) -> None:
    host, co, co2 = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    for person in (co, co2):
        await ok(client, person, "POST", f"/rooms/{rid}/join")
        await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": person.id})
        await ok(client, host, "POST", f"/rooms/{rid}/moderators", {"user_id": person.id})
    await fails(
        client,
        co,
        "POST",
        f"/rooms/{rid}/remove",
        403,
        "cannot_remove_moderator",
        {"user_id": co2.id},
    )
    await fails(
        client,
        co,
        "POST",
        f"/rooms/{rid}/remove",
        403,
        "cannot_remove_host",
        {"user_id": host.id},
    )
    await ok(client, host, "POST", f"/rooms/{rid}/remove", {"user_id": co2.id})


async def test_nobody_removes_the_host_even_after_they_stepped_down(
    client: AsyncClient, db: Database
) -> None:
    host, co = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, co, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": co.id})
    await ok(client, host, "POST", f"/rooms/{rid}/moderators", {"user_id": co.id})
    # the host steps down to the audience: the co-moderator runs the stage now...
    stepped = await ok(client, host, "DELETE", f"/rooms/{rid}/speakers/{host.id}")
    assert stepped["role"] == "listener"
    # ...but cannot put the room's creator out of it
    await fails(
        client, co, "POST", f"/rooms/{rid}/remove", 403, "cannot_remove_host", {"user_id": host.id}
    )
    # nor after the host left and came back
    await ok(client, host, "POST", f"/rooms/{rid}/leave")
    await ok(client, host, "POST", f"/rooms/{rid}/join")
    await fails(
        client, co, "POST", f"/rooms/{rid}/remove", 403, "cannot_remove_host", {"user_id": host.id}
    )
    assert participant(await fetch(client, co, rid), host) is not None
    log = (await ok(client, co, "GET", f"/rooms/{rid}/moderation"))["entries"]
    assert "remove" not in [e["action"] for e in log]


async def test_room_actions_have_a_per_account_allowance(
    client: AsyncClient, db: Database, settings: Settings
) -> None:
    host, guest, other = await make_members(db, 3)
    assert settings.room_actions_per_minute == 30
    early_in_a_minute()
    rid = (await open_room(client, host))["id"]  # the host's 1st action
    await ok(client, guest, "POST", f"/rooms/{rid}/join")  # the guest's 1st
    for n in range(29):  # each toggle reaches everyone in the room
        await ok(client, guest, "POST" if n % 2 == 0 else "DELETE", f"/rooms/{rid}/hand")
    seq = (await fetch(client, host, rid))["seq"]
    refused = await call(client, guest, "DELETE", f"/rooms/{rid}/hand")
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "at most 30 a minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # nothing happened: no event went out, the hand is still up
    room = await fetch(client, host, rid)
    assert room["seq"] == seq and participant(room, guest)["hand_raised"] is True
    # the allowance is the account's, across rooms; others are not held back
    await fails(client, guest, "POST", "/rooms", 429, "rate_limited", {"title": "again"})
    await ok(client, other, "POST", f"/rooms/{rid}/join")
    for path, body in (("/speakers", {"user_id": other.id}), ("/mute", {"user_id": other.id})):
        await ok(client, host, "POST", f"/rooms/{rid}{path}", body)
    # leaving is never refused
    await ok(client, guest, "POST", f"/rooms/{rid}/leave")
    assert participant(await fetch(client, host, rid), guest) is None


async def test_a_moderator_ends_the_room_for_everyone(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await fails(client, guest, "POST", f"/rooms/{rid}/end", 403, "not_a_moderator")
    await ok(client, host, "POST", f"/rooms/{rid}/end")
    ended = await fetch(client, guest, rid)
    assert ended["status"] == "ended" and ended["participants"] == []
    assert (ended["listener_count"], ended["speaker_count"]) == (0, 0)
    for method, path, body in (
        ("POST", "/end", None), ("POST", "/hand", None), ("POST", "/leave", None),
        ("POST", "/speakers", {"user_id": guest.id}), ("POST", "/mute", {"user_id": host.id}),
        ("POST", "/invites", {"user_id": guest.id}),
    ):
        await fails(client, host, method, f"/rooms/{rid}{path}", 409, "room_ended", body)
    log = (await ok(client, host, "GET", f"/rooms/{rid}/moderation"))["entries"]
    assert [(e["action"], e["actor_id"]) for e in log] == [("end", host.id)]


async def test_the_moderation_log_is_for_moderators(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await fails(client, guest, "GET", f"/rooms/{rid}/moderation", 403, "not_a_moderator")


# --- sequence numbers ------------------------------------------------------------------------


async def test_concurrent_changes_get_distinct_consecutive_sequence_numbers(
    client: AsyncClient, db: Database
) -> None:
    host, *guests = await make_members(db, 6)
    rid = (await open_room(client, host))["id"]
    for guest in guests:
        await ok(client, guest, "POST", f"/rooms/{rid}/join")
    start = (await fetch(client, host, rid))["seq"]
    answers = await asyncio.gather(*(call(client, g, "POST", f"/rooms/{rid}/hand") for g in guests))
    assert all(a.status_code == 200 for a in answers)
    page = await ok(client, host, "GET", f"/rooms/{rid}/events?after={start}")
    assert [e["seq"] for e in page["events"]] == list(range(start + 1, start + 6))
    assert {e["user_id"] for e in page["events"]} == {g.id for g in guests}
    assert page["seq"] == start + 5
