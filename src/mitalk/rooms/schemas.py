"""API models of rooms."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)

from mitalk.core.errors import ErrorBody
from mitalk.core.text import one_line

Visibility = Literal["open", "social", "closed"]
Role = Literal["moderator", "speaker", "listener"]
RoomStatus = Literal["scheduled", "live", "ended"]
# One line each: no control characters, no bidirectional overrides (mitalk.core.text).
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
    AfterValidator(one_line),
]
Topic = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(one_line),
]

MAX_TOPICS = 5


HALLWAY_STAGE_SHOWN = 6  # people on stage listed per hallway room


class RoomCreate(BaseModel):
    """A new room: a title, up to 5 topic tags, who may enter, and optionally when it starts.

    Without ``starts_at`` the room is live at once; with it, the room is scheduled (future,
    at most ``MITALK_ROOM_SCHEDULE_MAX_DAYS`` ahead) until its host starts it.
    """

    model_config = ConfigDict(extra="forbid")

    title: Title
    topics: Annotated[list[Topic], Field(max_length=MAX_TOPICS)] = []
    visibility: Visibility = "open"
    starts_at: AwareDatetime | None = Field(
        default=None,
        description="Schedule the room for this time (with a time zone) instead of opening it now.",
    )


class UserRef(BaseModel):
    """The person an action is about."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=64)


class ParticipantOut(BaseModel):
    """Someone in the room now; ``muted`` is always true for listeners (they cannot be heard)."""

    user_id: str
    name: str
    avatar_url: str | None = Field(
        default=None, description="Their avatar (256x256 WebP), null when none."
    )
    role: Role
    hand_raised: bool
    muted: bool


class RoomInfo(BaseModel):
    """What a room is: its title, topics, visibility, host and whether it is still live."""

    id: str
    title: str
    topics: list[str]
    visibility: Visibility
    host_id: str
    status: RoomStatus
    created_at: dt.datetime
    ended_at: dt.datetime | None
    starts_at: dt.datetime | None = Field(
        default=None, description="When a scheduled room is meant to start."
    )
    started_at: dt.datetime | None = Field(
        default=None, description="When it went live (null while scheduled)."
    )


class RoomSummary(RoomInfo):
    """A room in the hallway; ``speaker_count`` counts everyone on stage (moderators included)."""

    listener_count: int
    speaker_count: int


class StagePerson(BaseModel):
    """Someone on a room's stage, as the hallway shows them."""

    user_id: str
    name: str
    avatar_url: str | None = None
    role: Role


class HallwayRoom(RoomSummary):
    """A live room in the hallway with the first people on its stage (moderators first)."""

    speakers: list[StagePerson] = Field(
        default_factory=list, description=f"At most {HALLWAY_STAGE_SHOWN}."
    )


class RoomOut(RoomSummary):
    """A room with the people in it; ``seq`` is the number of its last event."""

    seq: int
    participants: list[ParticipantOut]
    rsvp_count: int = Field(
        default=0, description="How many people said they will come (scheduled rooms)."
    )
    rsvped: bool = Field(default=False, description="Whether you said you will come.")


class UpcomingRoom(RoomInfo):
    """A scheduled room in the hallway, with its RSVPs."""

    rsvp_count: int
    rsvped: bool
    score: float


class RankedRoom(HallwayRoom):
    """A live room in the hallway with its ranking score (higher first; see docs/network.md)."""

    score: float


class Hallway(BaseModel):
    """The hallway: live rooms you may enter and upcoming scheduled ones, each best first."""

    live: list[RankedRoom]
    upcoming: list[UpcomingRoom]


class RsvpOut(BaseModel):
    """Your RSVP to a scheduled room and how many people said they will come."""

    room_id: str
    rsvped: bool
    rsvp_count: int


class HallwayOut(BaseModel):
    """Live rooms you may enter, best first (see docs/network.md for the ranking)."""

    rooms: list[HallwayRoom]


class RoomInviteOut(BaseModel):
    """An invitation into a room."""

    room_id: str
    user_id: str
    invited_by: str | None
    created_at: dt.datetime


class ModerationEntryOut(BaseModel):
    """One moderation action; ``actor_id`` is null when the service acted by itself."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    action: str
    actor_id: str | None
    target_id: str | None
    created_at: dt.datetime


class ModerationLogOut(BaseModel):
    """A room's moderation log, oldest first."""

    entries: list[ModerationEntryOut]


# --- the room WebSocket's messages, both ways (room events are in events.py) ---------------

Ref = Annotated[str, Field(max_length=64, description="Echoed back in the ack or error.")]


# --- server to client ------------------------------------------------------------------------


class SnapshotMessage(BaseModel):
    """The room as it is after event ``seq``: replace your state with it; events follow."""

    type: Literal["snapshot"] = "snapshot"
    seq: int
    room: RoomOut


class ResumedMessage(BaseModel):
    """Your state at ``after`` is still good: the events up to ``seq`` follow, then live ones."""

    type: Literal["resumed"] = "resumed"
    after: int
    seq: int


class ResyncMessage(BaseModel):
    """Events you need are gone (too old, or you fell behind): drop your state; a snapshot comes."""

    type: Literal["resync"] = "resync"
    reason: Literal["gap_too_old", "ahead_of_room", "fell_behind", "missing_event"]


class AckMessage(BaseModel):
    """Your action with this ``ref`` was done; ``participant`` is your state after it."""

    type: Literal["ack"] = "ack"
    ref: str | None = None
    participant: ParticipantOut | None = None


class ErrorMessage(BaseModel):
    """Your message (``ref``) failed, or the connection is refused (then it closes)."""

    type: Literal["error"] = "error"
    ref: str | None = None
    error: ErrorBody


class PongMessage(BaseModel):
    """The answer to a ping."""

    type: Literal["pong"] = "pong"
    ref: str | None = None


# --- client to server ------------------------------------------------------------------------


class _ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: Ref | None = None


class PingMessage(_ClientMessage):
    """Keep the connection alive; answered by ``pong``."""

    type: Literal["ping"]


class ActionMessage(_ClientMessage):
    """Act on yourself in the room: the same rules and events as the HTTP routes."""

    type: Literal["raise_hand", "lower_hand", "mute", "unmute", "leave"]


ClientMessage = Annotated[PingMessage | ActionMessage, Field(discriminator="type")]
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)

SERVER_MESSAGES: tuple[type[BaseModel], ...] = (
    SnapshotMessage,
    ResumedMessage,
    ResyncMessage,
    AckMessage,
    ErrorMessage,
    PongMessage,
)
