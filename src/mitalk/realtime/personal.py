"""Personal events: what one account (or every account) is told outside any room.

They travel on the same bus as room events, on channels named like rooms but never colliding
with a room id: ``@user:<id>`` for one account, ``@all`` for everyone connected. They have no
sequence number: the account socket (``GET /api/v1/me/ws``) sends the current state on connect,
so a client that reconnects loses nothing by missing them.

Publish one from a service with :func:`publish_to_user`, inside the transaction that makes the
change: it goes out only after the commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.core.database import after_commit, utcnow
from mitalk.realtime.bus import EventBus
from mitalk.rooms.events import EventBase, RoomEvent

ALL = "@all"


def user_channel(user_id: str) -> str:
    """The bus channel of one account's personal events."""
    return f"@user:{user_id}"


class PersonalEvent(EventBase):
    """An event for one account (``room_id`` is its channel, see :func:`user_channel`)."""

    seq: None = None


class NotificationNew(PersonalEvent):
    """A new in-app notice for this account, with the account's unread count after it."""

    type: Literal["notification.new"] = "notification.new"
    notification: dict[str, Any] = Field(description="As GET /api/v1/notifications lists it.")
    unread: int = Field(ge=0)


class AccountChanged(PersonalEvent):
    """Something in ``GET /me`` changed (e.g. let in from the waitlist): fetch it again."""

    type: Literal["account.changed"] = "account.changed"


PersonalEventUnion = Annotated[NotificationNew | AccountChanged, Field(discriminator="type")]
PERSONAL_EVENT_TYPES: tuple[type[PersonalEvent], ...] = (NotificationNew, AccountChanged)
_any_event: TypeAdapter[RoomEvent | PersonalEventUnion] = TypeAdapter(
    Annotated[RoomEvent | PersonalEventUnion, Field(discriminator="type")]
)


def parse_any_event(raw: str | bytes) -> EventBase:
    """A room or personal event from its JSON form (what the Redis bus carries)."""
    event: EventBase = _any_event.validate_json(raw)
    return event


def publish_to_user(session: AsyncSession, bus: EventBus, event: PersonalEvent) -> None:
    """Send a personal event to its account's sockets on every node once ``session`` commits."""

    async def publish() -> None:
        await bus.publish(event)

    after_commit(session, publish)


def notification_event(user_id: str, notification: BaseModel, unread: int, at: dt.datetime | None = None) -> NotificationNew:
    """The live form of a notice just written for ``user_id``."""
    return NotificationNew(
        room_id=user_channel(user_id),
        at=at or utcnow(),
        notification=notification.model_dump(mode="json"),
        unread=unread,
    )


# --- what the account socket sends -----------------------------------------------------------


class _AccountMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HelloMessage(_AccountMessage):
    """First message: the account as ``GET /me`` shows it."""

    type: Literal["hello"] = "hello"
    account: dict[str, Any]


class AccountMessage(_AccountMessage):
    """The account changed (e.g. let in from the waitlist): here it is now."""

    type: Literal["account.changed"] = "account.changed"
    account: dict[str, Any]


class WaitlistPositionMessage(_AccountMessage):
    """A waitlister's place in line moved (a drop, a claim, someone let in)."""

    type: Literal["waitlist.position"] = "waitlist.position"
    position: int = Field(ge=1)
    total: int = Field(ge=0)


class WaitlistWindowMessage(_AccountMessage):
    """The claim window that matters now changed (opened, sold out, closed), as GET /passes/window."""

    type: Literal["waitlist.window"] = "waitlist.window"
    window: dict[str, Any] | None


class HallwayChangedMessage(_AccountMessage):
    """Rooms started, ended or changed size: fetch the hallway again (sent at most every 2 s)."""

    type: Literal["hallway.changed"] = "hallway.changed"


class NotificationMessage(_AccountMessage):
    """A new notice, as ``GET /notifications`` lists it, and the unread count now."""

    type: Literal["notification.new"] = "notification.new"
    notification: dict[str, Any]
    unread: int = Field(ge=0)


class AccountPongMessage(_AccountMessage):
    """The answer to ``{"type": "ping"}``."""

    type: Literal["pong"] = "pong"


ACCOUNT_MESSAGES: tuple[type[BaseModel], ...] = (
    HelloMessage,
    AccountMessage,
    WaitlistPositionMessage,
    WaitlistWindowMessage,
    HallwayChangedMessage,
    NotificationMessage,
    AccountPongMessage,
)
