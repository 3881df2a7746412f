"""Messages of the room WebSocket, both ways (room events themselves are in rooms.events)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mitalk.core.errors import ErrorBody
from mitalk.rooms.schemas import ParticipantOut, RoomOut

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
    """Events you need are gone (too old, or you fell behind): drop your state; a snapshot follows."""

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


class RealtimeSchemasOut(BaseModel):
    """JSON Schemas of every room event and WebSocket message, by name, for client validation."""

    events: dict[str, dict[str, Any]]
    server_messages: dict[str, dict[str, Any]]
    client_messages: dict[str, dict[str, Any]]
    account_messages: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="What the account socket (GET /api/v1/me/ws) sends."
    )
