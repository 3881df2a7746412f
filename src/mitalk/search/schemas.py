"""API models of search."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from mitalk.network.schemas import PersonOut
from mitalk.rooms.schemas import RoomStatus, Visibility


class PersonHit(BaseModel):
    """A person found: their public profile fields (never a phone number)."""

    id: str
    name: str
    headline: str
    company: str
    role: str
    industry: str
    skills: list[str]
    open_to: list[str]


class PeopleResults(BaseModel):
    """People, best match first; ``next_offset`` is null on the last page."""

    people: list[PersonHit]
    next_offset: int | None


class RoomHit(BaseModel):
    """A live or scheduled room found."""

    id: str
    title: str
    topics: list[str]
    visibility: Visibility
    host_id: str
    status: RoomStatus
    starts_at: dt.datetime | None
    created_at: dt.datetime


class RoomResults(BaseModel):
    """Rooms, best match first; ``next_offset`` is null on the last page."""

    rooms: list[RoomHit]
    next_offset: int | None


class SuggestedPerson(BaseModel):
    """Someone to follow, and why: in your contacts, or sharing your topics (which ones)."""

    person: PersonOut
    via: Literal["contacts", "topics"]
    topics: list[str] = Field(description="Your topics of interest their profile speaks of.")


class SuggestionsOut(BaseModel):
    """What onboarding offers: topics people talk about, and people to follow."""

    topics: list[str] = Field(description="Topics of open rooms of the last 30 days, most first.")
    people: list[SuggestedPerson]
