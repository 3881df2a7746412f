"""The events notices publish on their owner's personal channel: ``notification.new`` when one
is written, ``notification.read`` when they were marked read (on any of the person's devices)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field

from mitalk.core.database import utcnow
from mitalk.notifications.schemas import NotificationOut
from mitalk.realtime.events import PersonalEvent, register_events, user_channel


class NotificationNew(PersonalEvent):
    """A new in-app notice for this account, with the account's unread count after it."""

    type: Literal["notification.new"] = "notification.new"
    notification: dict[str, Any] = Field(description="As GET /api/v1/notifications lists it.")
    unread: int = Field(ge=0)


class NotificationsRead(PersonalEvent):
    """This account's notices up to ``up_to`` were marked read; ``unread`` is what is left."""

    type: Literal["notification.read"] = "notification.read"
    up_to: int = Field(ge=0)
    unread: int = Field(ge=0)


register_events(NotificationNew, NotificationsRead)


def notification_event(
    user_id: str, notification: NotificationOut, unread: int, at: dt.datetime | None = None
) -> NotificationNew:
    """The live form of a notice just written for ``user_id``."""
    return NotificationNew(
        channel=user_channel(user_id),
        at=at or utcnow(),
        notification=notification.model_dump(mode="json"),
        unread=unread,
    )
