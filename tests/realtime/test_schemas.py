"""The published JSON Schemas of events and socket messages, which the web client validates with."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from mitalk.core.database import Database
from rooms.kit import make_members, ok, open_room

EVENT_NAMES = {
    "room.created", "room.participant_joined", "room.participant_left", "room.hand_raised",
    "room.hand_lowered", "room.role_changed", "room.muted", "room.unmuted", "room.removed",
    "room.ended", "room.active_speaker", "room.media_reconnect",
}


def conforms(instance: dict[str, Any], schema: dict[str, Any]) -> None:
    """The checks a client validator makes at the top level: known fields, required ones, type."""
    assert schema.get("additionalProperties") is False
    assert set(instance) <= set(schema["properties"]), set(instance) - set(schema["properties"])
    assert set(schema["required"]) <= set(instance)
    assert instance["type"] == schema["properties"]["type"]["const"]


async def test_every_event_and_message_has_a_published_schema(
    client: AsyncClient, db: Database
) -> None:
    schemas = (await client.get("/api/v1/realtime/schemas")).json()
    assert set(schemas["events"]) == EVENT_NAMES
    assert set(schemas["server_messages"]) == {
        "snapshot",
        "resumed",
        "resync",
        "ack",
        "error",
        "pong",
    }
    assert set(schemas["client_messages"]) == {"ping", "action"}
    assert set(schemas["client_messages"]["action"]["properties"]["type"]["enum"]) == {
        "raise_hand", "lower_hand", "mute", "unmute", "leave"
    }
    # what a real flow emits matches what is published
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
    await ok(client, host, "POST", f"/rooms/{rid}/mute", {"user_id": host.id})
    await ok(client, host, "POST", f"/rooms/{rid}/end")
    events = (await ok(client, host, "GET", f"/rooms/{rid}/events?after=0"))["events"]
    assert len(events) == 6
    for event in events:
        conforms(event, schemas["events"][event["type"]])


async def test_the_events_are_in_openapi_too(client: AsyncClient) -> None:
    components = (await client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    for name in (
        "HandRaised",
        "RoleChanged",
        "Ended",
        "ActiveSpeaker",
        "Recipients",
        "ParticipantOut",
    ):
        assert name in components
