"""The SQL the media layer needs: which rooms are live, and one person's place in a room."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.rooms import repository as rooms_repo
from mitalk.rooms.models import Room


async def live_room_ids(session: AsyncSession) -> list[str]:
    """Ids of every live room (each one should have a stage in Janus)."""
    return list(await session.scalars(select(Room.id).where(Room.status == "live")))


@dataclass(frozen=True)
class Place:
    """What the media layer needs to know about a person in a room, read in one go."""

    room_live: bool
    room_exists: bool
    presence: str | None  # in_room | left | removed | None (never joined)
    role: str | None
    muted: bool
    room_scheduled: bool = False  # not live yet: its host has not started it

    @property
    def present(self) -> bool:
        return self.room_live and self.presence == rooms_repo.IN_ROOM

    @property
    def on_stage(self) -> bool:
        return self.present and self.role in ("moderator", "speaker")


async def place_of(session: AsyncSession, room_id: str, user_id: str) -> Place:
    """The room's state and the person's presence, role and mute in it."""
    room = await rooms_repo.room_by_id(session, room_id)
    if room is None:
        return Place(False, False, None, None, True)
    row = await rooms_repo.participant(session, room_id, user_id)
    return Place(
        room_live=room.status == "live",
        room_exists=True,
        presence=row.presence if row else None,
        role=row.role if row else None,
        muted=row.muted if row else True,
        room_scheduled=room.status == "scheduled",
    )
