"""API models of invites, the waitlist and passes."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class InviteRequest(BaseModel):
    """The phone number to invite."""

    phone: str = Field(max_length=64, examples=["+44 7911 123456"])


class InviteOut(BaseModel):
    """An invite you sent."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    phone: str
    status: Literal["pending", "used"]
    created_at: dt.datetime
    used_at: dt.datetime | None


class InviteListOut(BaseModel):
    """Your invites, newest first, and how many you have left."""

    invites_left: int
    invites: list[InviteOut]


class ClaimWindowOut(BaseModel):
    """The claim window waitlisters care about now."""

    id: str
    state: Literal["scheduled", "open", "sold_out", "closed"]
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    total: int
    remaining: int


class WaitlistMeOut(BaseModel):
    """Your place in line, how many wait, and the current claim window (if any)."""

    position: int
    total: int
    claim_window: ClaimWindowOut | None


class ClaimOut(BaseModel):
    """You have a pass: your account is active."""

    status: Literal["granted"]
