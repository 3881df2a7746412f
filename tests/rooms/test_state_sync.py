"""Fetch a room, act, apply the emitted events to the old state, compare with a fresh fetch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from httpx import AsyncClient

from factories import Person
from mitalk.core.database import Database
from mitalk.realtime.bus import EventBus
from rooms.kit import apply_event, comparable, fetch, make_members, ok, open_room

Action = Callable[[], Awaitable[Any]]


async def check_sync(
    client: AsyncClient,
    bus: EventBus,
    observer: Person,
    room_id: str,
    action: Action,
    expected: list[str],
) -> dict[str, Any]:
    """Run ``action``; its events, applied to the state before, give the state after."""
    before = await fetch(client, observer, room_id)
    with bus.subscribe(room_id) as subscription:
        await action()
        page = await ok(client, observer, "GET", f"/rooms/{room_id}/events?after={before['seq']}")
        published = []
        while len(published) < len(page["events"]):
            event = await subscription.get()
            assert event is not None
            published.append(event.model_dump(mode="json"))
    assert [e["type"] for e in page["events"]] == expected
    assert published == page["events"]  # what the bus delivered live is what it replays
    state = before
    for event in page["events"]:
        state = apply_event(state, event)
    after = await fetch(client, observer, room_id)
    assert comparable(state) == comparable(after)
    assert page["seq"] == after["seq"] == before["seq"] + len(expected)
    return after


async def test_every_action_keeps_a_client_in_sync(
    client: AsyncClient, db: Database, app: FastAPI
) -> None:
    bus: EventBus = app.state.bus
    host, speaker, listener, second, troll, observer = await make_members(db, 6)
    room = await open_room(client, host)
    rid = room["id"]

    def do(person: Person, method: str, path: str, body: Any = None) -> Action:
        return lambda: ok(client, person, method, f"/rooms/{rid}{path}", body)

    steps: list[tuple[Action, list[str]]] = [
        (do(speaker, "POST", "/join"), ["room.participant_joined"]),
        (do(listener, "POST", "/join"), ["room.participant_joined"]),
        (do(second, "POST", "/join"), ["room.participant_joined"]),
        (do(troll, "POST", "/join"), ["room.participant_joined"]),
        (do(speaker, "POST", "/hand"), ["room.hand_raised"]),
        (do(host, "POST", "/speakers", {"user_id": speaker.id}), ["room.role_changed"]),
        (do(speaker, "POST", "/unmute"), ["room.unmuted"]),
        (do(host, "POST", "/mute", {"user_id": speaker.id}), ["room.muted"]),
        (do(speaker, "POST", "/unmute"), ["room.unmuted"]),
        (do(speaker, "POST", "/mute", {"user_id": speaker.id}), ["room.muted"]),
        (do(listener, "POST", "/hand"), ["room.hand_raised"]),
        (do(listener, "DELETE", "/hand"), ["room.hand_lowered"]),
        (do(host, "POST", "/speakers", {"user_id": second.id}), ["room.role_changed"]),
        (do(host, "DELETE", f"/speakers/{second.id}"), ["room.role_changed"]),
        (do(host, "POST", "/speakers", {"user_id": second.id}), ["room.role_changed"]),
        (do(second, "DELETE", f"/speakers/{second.id}"), ["room.role_changed"]),
        (do(host, "POST", "/remove", {"user_id": troll.id}), ["room.removed"]),
        (do(listener, "POST", "/leave"), ["room.participant_left"]),
        (do(listener, "POST", "/join"), ["room.participant_joined"]),
        # the last moderator leaves: the speaker takes over
        (do(host, "POST", "/leave"), ["room.participant_left", "room.role_changed"]),
        (do(speaker, "POST", "/speakers", {"user_id": second.id}), ["room.role_changed"]),
        (do(speaker, "POST", "/moderators", {"user_id": second.id}), ["room.role_changed"]),
        (do(speaker, "POST", "/end"), ["room.ended"]),
    ]
    for action, expected in steps:
        await check_sync(client, bus, observer, rid, action, expected)


async def test_the_room_ends_when_its_last_moderator_leaves_alone(
    client: AsyncClient, db: Database, app: FastAPI
) -> None:
    bus: EventBus = app.state.bus
    host, listener, observer = await make_members(db, 3)
    rid = (await open_room(client, host))["id"]
    await ok(client, listener, "POST", f"/rooms/{rid}/join")
    after = await check_sync(
        client, bus, observer, rid, lambda: ok(client, host, "POST", f"/rooms/{rid}/leave"),
        ["room.participant_left", "room.ended"],
    )
    assert after["status"] == "ended"


async def test_creating_a_room_publishes_created_then_the_host_joining(
    client: AsyncClient, db: Database, app: FastAPI
) -> None:
    bus: EventBus = app.state.bus
    (host,) = await make_members(db, 1)
    with bus.subscribe(None) as everything:
        room = await open_room(client, host, title="Launch", topics=["ai"])
        created, joined = await everything.get(), await everything.get()
    assert created is not None and joined is not None
    data = created.model_dump(mode="json")
    assert (data["type"], data["seq"], data["room"]["title"], data["room"]["host_id"]) == (
        "room.created", 1, "Launch", host.id
    )
    assert data["recipients"] == {"scope": "room", "user_ids": []}
    assert joined.model_dump(mode="json")["participant"] == room["participants"][0]
