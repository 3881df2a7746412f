"""API models of profiles."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class OpenTo(StrEnum):
    """What a person is open to."""

    hiring = "hiring"
    job_offers = "job_offers"
    investing = "investing"
    partnerships = "partnerships"
    mentoring = "mentoring"
    clients = "clients"


class ProfileOut(BaseModel):
    """A public profile: never a phone number."""

    model_config = ConfigDict(from_attributes=True)

    name: str = ""
    headline: str = ""
    company: str = ""
    role: str = ""
    industry: str = ""
    location: str = ""
    skills: list[str] = []
    bio: str = ""
    links: list[str] = []
    open_to: list[str] = []


class ProfileUpdate(BaseModel):
    """Fields to change; the ones left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)] | None = None
    headline: Annotated[str, StringConstraints(strip_whitespace=True, max_length=160)] | None = None
    company: ShortText | None = None
    role: ShortText | None = None
    industry: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    location: ShortText | None = None
    skills: Annotated[list[Tag], Field(max_length=30)] | None = None
    bio: Annotated[str, StringConstraints(max_length=2000)] | None = None
    links: Annotated[list[AnyHttpUrl], Field(max_length=5)] | None = None
    open_to: Annotated[list[OpenTo], Field(max_length=6)] | None = None


class PublicUser(BaseModel):
    """Another person as members see them."""

    id: str
    profile: ProfileOut


class NotificationOut(BaseModel):
    """One notice."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    body: str
    created_at: dt.datetime
    read: bool


class NotificationListOut(BaseModel):
    """Your newest notices and how many are unread."""

    unread: int
    notifications: list[NotificationOut]


class MarkReadRequest(BaseModel):
    """Mark every notice up to and including this id read."""

    up_to: int = Field(ge=0, le=2**63 - 1)
