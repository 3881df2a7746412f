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


class DropStats(BaseModel):
    """One drop."""

    id: str
    requested: int
    admitted: int
    status: Literal["running", "done"]
    created_at: dt.datetime
    finished_at: dt.datetime | None


class WindowStats(BaseModel):
    """One claim window and how fast its passes went."""

    id: str
    state: Literal["scheduled", "open", "sold_out", "closed"]
    total: int
    granted: int
    opens_at: dt.datetime
    closes_at: dt.datetime | None
    first_grant_at: dt.datetime | None
    last_grant_at: dt.datetime | None
    grants_per_second: float | None


class WaitlistStatsOut(BaseModel):
    """The operator's view of the line and the passes."""

    joined: int
    admitted: int
    waiting: int
    claims_per_second_last_10s: float
    drops: list[DropStats]
    windows: list[WindowStats]
