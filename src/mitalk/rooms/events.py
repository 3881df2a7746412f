"""Events rooms publish: data with a schema, named ``room.*``, each naming its recipients.

Every event but ``room.active_speaker`` changes the room's state and carries the room's next
sequence number (``seq``): applying a room's events in ``seq`` order to a snapshot taken at
``seq = n`` gives exactly the state a fresh fetch shows. ``room.active_speaker`` is ephemeral:
the media layer emits it, it has no ``seq`` and is not kept for clients that reconnect.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from mitalk.realtime.events import EventBase, register_events
from mitalk.realtime.schemas import document
from mitalk.rooms.schemas import ParticipantOut, Role, RoomInfo


class RoomEventBase(EventBase):
    """What every room event carries besides the base: its room, which is its channel."""

    room_id: str

    @property
    def channel(self) -> str:
        """A room's events travel on the channel named by the room's id."""
        return self.room_id


class StateEvent(RoomEventBase):
    """An event that changes room state: numbered by the room's sequence."""

    seq: int = Field(ge=1, description="The room's sequence number after this event.")


class RoomCreated(StateEvent):
    """A room opened (its host joins in the next event)."""

    type: Literal["room.created"] = "room.created"
    room: RoomInfo


class ParticipantJoined(StateEvent):
    """Someone entered the room, with the role they hold."""

    type: Literal["room.participant_joined"] = "room.participant_joined"
    participant: ParticipantOut


class ParticipantLeft(StateEvent):
    """Someone left the room by themselves."""

    type: Literal["room.participant_left"] = "room.participant_left"
    user_id: str


class HandRaised(StateEvent):
    """A listener raised their hand."""

    type: Literal["room.hand_raised"] = "room.hand_raised"
    user_id: str


class HandLowered(StateEvent):
    """A listener lowered their hand."""

    type: Literal["room.hand_lowered"] = "room.hand_lowered"
    user_id: str


class RoleChanged(StateEvent):
    """Someone's role changed; ``hand_raised`` and ``muted`` are their state after the change.

    ``by`` is the moderator who did it, the person themselves (stepping down), or null when
    the service handed moderation on because the last moderator left.
    """

    type: Literal["room.role_changed"] = "room.role_changed"
    user_id: str
    role: Role
    previous_role: Role
    hand_raised: bool
    muted: bool
    by: str | None


class Muted(StateEvent):
    """Someone on stage was muted (by a moderator, or by themselves)."""

    type: Literal["room.muted"] = "room.muted"
    user_id: str
    by: str


class Unmuted(StateEvent):
    """Someone on stage unmuted themselves."""

    type: Literal["room.unmuted"] = "room.unmuted"
    user_id: str


class Removed(StateEvent):
    """A moderator removed someone; they are out and cannot come back."""

    type: Literal["room.removed"] = "room.removed"
    user_id: str
    by: str


class Ended(StateEvent):
    """The room ended for everyone."""

    type: Literal["room.ended"] = "room.ended"
    reason: Literal["ended_by_moderator", "no_moderator_left"]
    by: str | None


class ActiveSpeaker(RoomEventBase):
    """Who is talking now (null: nobody); emitted by the media layer, ephemeral, no ``seq``."""

    type: Literal["room.active_speaker"] = "room.active_speaker"
    seq: None = None
    user_id: str | None


class MediaReconnect(RoomEventBase):
    """Connect your audio again (offer or listen, as your role says): the media server restarted.

    Emitted by the media layer once the room's stage exists again; ephemeral, no ``seq``.
    (Role changes need no event of their own: ``room.role_changed`` for yourself means move
    your audio, see docs/media.md.)
    """

    type: Literal["room.media_reconnect"] = "room.media_reconnect"
    seq: None = None
    reason: Literal["media_restarted"] = "media_restarted"


RoomEvent = Annotated[
    RoomCreated
    | ParticipantJoined
    | ParticipantLeft
    | HandRaised
    | HandLowered
    | RoleChanged
    | Muted
    | Unmuted
    | Removed
    | Ended
    | ActiveSpeaker
    | MediaReconnect,
    Field(discriminator="type"),
]
EVENT_TYPES: tuple[type[RoomEventBase], ...] = (
    RoomCreated,
    ParticipantJoined,
    ParticipantLeft,
    HandRaised,
    HandLowered,
    RoleChanged,
    Muted,
    Unmuted,
    Removed,
    Ended,
    ActiveSpeaker,
    MediaReconnect,
)
room_event_adapter: TypeAdapter[RoomEvent] = TypeAdapter(RoomEvent)
register_events(*EVENT_TYPES)
document("events", EVENT_TYPES)
