"""API models of invites, the waitlist and passes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mitalk.core.text import one_line


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


class SuspendRequest(BaseModel):
    """Suspend an account (staff): until when (none: until lifted), and why (staff's note)."""

    model_config = ConfigDict(extra="forbid")

    until: dt.datetime | None = Field(
        default=None, description="When the suspension ends (with a time zone); none: until lifted."
    )
    reason: Annotated[str, AfterValidator(one_line)] = Field(
        min_length=1, max_length=200, description="Why, for staff; never shown to other people."
    )

    @field_validator("until")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-12-01T12:00:00Z")
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValueError("is out of range") from None


class SuspensionOut(BaseModel):
    """An account's suspension as staff see it (``suspended`` false: none holds now)."""

    user_id: str
    suspended: bool
    since: dt.datetime | None
    until: dt.datetime | None
    reason: str | None
    by: str | None
    can_suspend: bool = Field(description="False for staff, who cannot be suspended.")
