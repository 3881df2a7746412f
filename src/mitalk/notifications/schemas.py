"""API models of notices."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class NotificationOut(BaseModel):
    """One notice."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    body: str
    data: dict[str, str] | None = Field(
        default=None, description="What it is about, for links: room_id, user_id."
    )
    created_at: dt.datetime
    read: bool


class NotificationListOut(BaseModel):
    """Your newest notices and how many are unread."""

    unread: int
    notifications: list[NotificationOut]


class MarkReadRequest(BaseModel):
    """Mark every notice up to and including this id read."""

    up_to: int = Field(ge=0, le=2**63 - 1)
