"""Events: data with a schema, each naming its recipients, carried by the bus on a channel.

This module knows no domain. A context defines the events it publishes on top of ``EventBase``
(``rooms/events.py``, ``notifications/events.py``, …) and registers them with
``register_events``, so that ``parse_event`` can read any of them back from JSON (what the Redis
bus carries) without this module importing the context.

Every event travels on a channel, the bus's unit of subscription: a room's events on the room's
id (``room_id`` is their channel), personal events on ``@user:<id>`` (one account, see
``user_channel``), which never collides with a room id.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Recipients(BaseModel):
    """Who receives an event: everyone following the room, its moderators, or the people named."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["room", "moderators", "users"] = "room"
    user_ids: list[str] = []


EVERYONE_IN_ROOM = Recipients(scope="room")


class EventBase(BaseModel):
    """What every event carries: its type, when it happened, who receives it; a state event also
    its channel's sequence number (``seq``)."""

    model_config = ConfigDict(extra="forbid")

    type: str
    seq: int | None = None
    at: dt.datetime
    recipients: Recipients = EVERYONE_IN_ROOM

    if TYPE_CHECKING:
        # Every event has a channel: a property of room events (their ``room_id``), a field of
        # personal events. Declared for type checkers only: declared here as either, it would
        # clash with the other in the subclasses.
        @property
        def channel(self) -> str:
            """The bus channel the event travels on."""
            raise NotImplementedError


class PersonalEvent(EventBase):
    """An event for one account, outside any room; no sequence number (the account socket sends
    the current state on connect, so a client that reconnects loses nothing by missing one)."""

    channel: str = Field(description="The account's channel, see user_channel.")
    seq: None = None


def user_channel(user_id: str) -> str:
    """The bus channel of one account's personal events."""
    return f"@user:{user_id}"


def event_name(model: type[BaseModel]) -> str:
    """The ``type`` an event class carries, e.g. ``room.hand_raised``."""
    default = model.model_fields["type"].default
    assert isinstance(default, str)
    return default


class _Registry:
    """The event types contexts registered, and a parser of their union (rebuilt on change)."""

    def __init__(self) -> None:
        self.types: dict[str, type[EventBase]] = {}
        self._adapter: TypeAdapter[Any] | None = None

    def add(self, types: tuple[type[EventBase], ...]) -> None:
        for model in types:
            self.types[event_name(model)] = model
        self._adapter = None

    def adapter(self) -> TypeAdapter[Any]:
        if self._adapter is None:
            models = tuple(self.types.values())
            if not models:
                raise LookupError("no event types are registered")
            union: Any = models[0]
            for model in models[1:]:
                union = union | model
            form: Any = Annotated[union, Field(discriminator="type")] if len(models) > 1 else union
            self._adapter = TypeAdapter(form)
        return self._adapter


_registry = _Registry()


def register_events(*types: type[EventBase]) -> None:
    """Make these event types readable by ``parse_event`` (each context registers its own)."""
    _registry.add(types)


def parse_event(raw: str | bytes) -> EventBase:
    """Any registered event from its JSON form (what the Redis bus carries)."""
    event: EventBase = _registry.adapter().validate_json(raw)
    return event
