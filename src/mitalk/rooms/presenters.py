"""How the API shows rooms: a stored room and its people as ``RoomInfo``, ``ParticipantOut`` and
``RoomOut`` (the services, the hallway and search build their answers with these)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.network.models import avatar_url
from mitalk.rooms import repository as repo
from mitalk.rooms.models import Room, RoomParticipant
from mitalk.rooms.schemas import ParticipantOut, Role, RoomInfo, RoomOut, RoomStatus, Visibility


def room_status(room: Room) -> RoomStatus:
    """A room's status as the API names it."""
    if room.status in ("scheduled", "ended"):
        return room.status  # type: ignore[return-value]
    return "live"


def room_info(room: Room) -> RoomInfo:
    """What a room is, without its people."""
    visibility: Visibility = room.visibility  # type: ignore[assignment]
    return RoomInfo(
        id=room.id,
        title=room.title,
        topics=list(room.topics),
        visibility=visibility,
        host_id=room.host_id,
        status=room_status(room),
        created_at=room.created_at,
        ended_at=room.ended_at,
        starts_at=room.starts_at,
        started_at=room.started_at,
    )


def participant_out(
    row: RoomParticipant, name: str | None, avatar_hash: str | None = None
) -> ParticipantOut:
    """A participant as the API shows them."""
    role: Role = row.role  # type: ignore[assignment]
    return ParticipantOut(
        user_id=row.user_id,
        name=name or "",
        avatar_url=avatar_url(row.user_id, avatar_hash),
        role=role,
        hand_raised=row.hand_raised,
        muted=row.muted,
    )


async def room_out(session: AsyncSession, room: Room, viewer_id: str | None = None) -> RoomOut:
    """A room with the people in it now, its sequence number, and its RSVPs."""
    people = [
        participant_out(p, name, avatar)
        for p, name, avatar in await repo.present_with_names(session, room.id)
    ]
    rsvp_count, rsvped = await repo.rsvps_of(session, room.id, viewer_id)
    return RoomOut(
        **room_info(room).model_dump(),
        listener_count=sum(1 for p in people if p.role == "listener"),
        speaker_count=sum(1 for p in people if p.role != "listener"),
        seq=room.seq,
        participants=people,
        rsvp_count=rsvp_count,
        rsvped=rsvped,
    )


