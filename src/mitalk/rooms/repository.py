"""Every SQL query about rooms, participants, room invites, RSVPs and the moderation log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Literal

from sqlalchemy import Select, and_, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.network.models import Follow, Profile
from mitalk.notifications.models import Notification
from mitalk.rooms.models import ModerationAction, Room, RoomInvite, RoomParticipant, RoomRsvp
from mitalk.rooms.visibility import room_visible_to

IN_ROOM = "in_room"
LEFT = "left"
REMOVED = "removed"


async def room_by_id(
    session: AsyncSession, room_id: str, lock: Literal["update", "share"] | None = None
) -> Room | None:
    """One room; ``lock`` takes its row lock (every change to a room takes ``update`` first).

    A snapshot read under ``share`` sees the room's rows exactly as of its ``seq``. SQLite has
    no row locks and needs none: every transaction there holds the database's write lock.
    """
    stmt = select(Room).where(Room.id == room_id)
    if lock == "update":
        stmt = stmt.with_for_update()
    elif lock == "share":
        stmt = stmt.with_for_update(read=True)
    room: Room | None = await session.scalar(stmt.execution_options(populate_existing=True))
    return room


async def lock_user(session: AsyncSession, user_id: str) -> None:
    """Take a person's row lock (serialises room creation per host)."""
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def add_room(
    session: AsyncSession,
    host_id: str,
    title: str,
    topics: list[str],
    visibility: str,
    now: dt.datetime,
) -> Room:
    """Store a new live room."""
    room = Room(
        host_id=host_id,
        title=title,
        topics=topics,
        visibility=visibility,
        status="live",
        seq=0,
        created_at=now,
    )
    session.add(room)
    await session.flush()
    return room


async def live_rooms_hosted_by(session: AsyncSession, user_id: str) -> int:
    """How many live rooms a person created."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Room)
            .where(Room.host_id == user_id, Room.status == "live")
        )
        or 0
    )


async def participant(session: AsyncSession, room_id: str, user_id: str) -> RoomParticipant | None:
    """A person's row in a room (present, left or removed), if they ever entered."""
    return await session.scalar(
        select(RoomParticipant)
        .where(RoomParticipant.room_id == room_id, RoomParticipant.user_id == user_id)
        .execution_options(populate_existing=True)
    )


async def add_participant(
    session: AsyncSession,
    room_id: str,
    user_id: str,
    role: str,
    muted: bool,
    on_stage_seq: int | None,
    now: dt.datetime,
) -> RoomParticipant:
    """Put a person in a room for the first time."""
    row = RoomParticipant(
        room_id=room_id,
        user_id=user_id,
        role=role,
        presence=IN_ROOM,
        hand_raised=False,
        muted=muted,
        joined_at=now,
        on_stage_seq=on_stage_seq,
    )
    session.add(row)
    await session.flush()
    return row


async def present_with_names(
    session: AsyncSession, room_id: str
) -> Sequence[tuple[RoomParticipant, str | None, str | None]]:
    """The people in a room now with their profile names and avatar hashes: stage first,
    then by arrival."""
    role_order = case(
        (RoomParticipant.role == "moderator", 0), (RoomParticipant.role == "speaker", 1), else_=2
    )
    rows = await session.execute(
        select(RoomParticipant, Profile.name, Profile.avatar_hash)
        .outerjoin(Profile, Profile.user_id == RoomParticipant.user_id)
        .where(RoomParticipant.room_id == room_id, RoomParticipant.presence == IN_ROOM)
        .order_by(role_order, RoomParticipant.joined_at, RoomParticipant.user_id)
    )
    return [(p, name, avatar) for p, name, avatar in rows.all()]


async def name_of(session: AsyncSession, user_id: str) -> str:
    """A person's profile name ('' if they wrote none)."""
    return await session.scalar(select(Profile.name).where(Profile.user_id == user_id)) or ""


async def face_of(session: AsyncSession, user_id: str) -> tuple[str, str | None]:
    """A person's profile name ('' if none) and avatar hash (None if none)."""
    row = (
        await session.execute(
            select(Profile.name, Profile.avatar_hash).where(Profile.user_id == user_id)
        )
    ).first()
    return (row[0] or "", row[1]) if row else ("", None)


async def count_present(session: AsyncSession, room_id: str, on_stage: bool | None = None) -> int:
    """How many people are in a room (on stage only, off stage only, or all)."""
    stmt = (
        select(func.count())
        .select_from(RoomParticipant)
        .where(RoomParticipant.room_id == room_id, RoomParticipant.presence == IN_ROOM)
    )
    if on_stage is True:
        stmt = stmt.where(RoomParticipant.role != "listener")
    elif on_stage is False:
        stmt = stmt.where(RoomParticipant.role == "listener")
    return int(await session.scalar(stmt) or 0)


async def count_present_moderators(session: AsyncSession, room_id: str) -> int:
    """How many moderators are in a room now."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(RoomParticipant)
            .where(
                RoomParticipant.room_id == room_id,
                RoomParticipant.presence == IN_ROOM,
                RoomParticipant.role == "moderator",
            )
        )
        or 0
    )


async def longest_standing_speaker(session: AsyncSession, room_id: str) -> RoomParticipant | None:
    """The speaker in the room who came on stage first."""
    return await session.scalar(
        select(RoomParticipant)
        .where(
            RoomParticipant.room_id == room_id,
            RoomParticipant.presence == IN_ROOM,
            RoomParticipant.role == "speaker",
        )
        .order_by(RoomParticipant.on_stage_seq, RoomParticipant.joined_at, RoomParticipant.user_id)
        .limit(1)
    )


async def empty_room(session: AsyncSession, room_id: str) -> None:
    """Everyone still in a room leaves it (the room ended)."""
    await session.execute(
        update(RoomParticipant)
        .where(RoomParticipant.room_id == room_id, RoomParticipant.presence == IN_ROOM)
        .values(presence=LEFT, hand_raised=False)
        .execution_options(synchronize_session="fetch")
    )


async def live_rooms_present_in(session: AsyncSession, user_id: str) -> list[str]:
    """Ids of the live rooms ``user_id`` is in now."""
    return list(
        await session.scalars(
            select(Room.id)
            .join(RoomParticipant, RoomParticipant.room_id == Room.id)
            .where(
                Room.status == "live",
                RoomParticipant.user_id == user_id,
                RoomParticipant.presence == IN_ROOM,
            )
            .order_by(Room.id)
        )
    )


async def live_rooms_with(session: AsyncSession, host_id: str, user_id: str) -> list[str]:
    """Ids of the live rooms ``host_id`` hosts that ``user_id`` is in now."""
    return list(
        await session.scalars(
            select(Room.id)
            .join(RoomParticipant, RoomParticipant.room_id == Room.id)
            .where(
                Room.host_id == host_id,
                Room.status == "live",
                RoomParticipant.user_id == user_id,
                RoomParticipant.presence == IN_ROOM,
            )
            .order_by(Room.id)
        )
    )


async def drop_invites_and_rsvps(session: AsyncSession, host_id: str, user_id: str) -> None:
    """Forget ``user_id``'s invitations into, and RSVPs to, the rooms ``host_id`` hosts."""
    hosted = select(Room.id).where(Room.host_id == host_id)
    await session.execute(
        delete(RoomInvite).where(RoomInvite.user_id == user_id, RoomInvite.room_id.in_(hosted))
    )
    await session.execute(
        delete(RoomRsvp).where(RoomRsvp.user_id == user_id, RoomRsvp.room_id.in_(hosted))
    )


async def is_invited(session: AsyncSession, room_id: str, user_id: str) -> bool:
    """Whether a person was invited into a room."""
    return await session.get(RoomInvite, (room_id, user_id)) is not None


async def add_invite(
    session: AsyncSession, room_id: str, user_id: str, invited_by: str, now: dt.datetime
) -> tuple[RoomInvite, bool]:
    """Invite a person into a room; returns the invite and whether it is new."""
    existing = await session.get(RoomInvite, (room_id, user_id))
    if existing is not None:
        return existing, False
    invite = RoomInvite(room_id=room_id, user_id=user_id, invited_by=invited_by, created_at=now)
    session.add(invite)
    await session.flush()
    return invite, True


async def hallway(
    session: AsyncSession, user_id: str, limit: int
) -> Sequence[tuple[Room, int, int]]:
    """Live rooms a person may enter, with listener and on-stage counts, fullest first."""
    present = RoomParticipant.presence == IN_ROOM
    listeners = func.coalesce(
        func.sum(case((and_(present, RoomParticipant.role == "listener"), 1), else_=0)), 0
    )
    on_stage = func.coalesce(
        func.sum(case((and_(present, RoomParticipant.role != "listener"), 1), else_=0)), 0
    )
    invited = exists().where(RoomInvite.room_id == Room.id, RoomInvite.user_id == user_id)
    removed_row = RoomParticipant.__table__.alias("removed_row")
    removed = exists().where(
        removed_row.c.room_id == Room.id,
        removed_row.c.user_id == user_id,
        removed_row.c.presence == REMOVED,
    )
    rows = await session.execute(
        select(Room, listeners, on_stage)
        .outerjoin(RoomParticipant, RoomParticipant.room_id == Room.id)
        .where(
            Room.status == "live",
            or_(Room.visibility == "open", Room.host_id == user_id, invited),
            ~removed,
        )
        .group_by(Room.id)
        .order_by((listeners + on_stage).desc(), Room.created_at.desc(), Room.id)
        .limit(limit)
    )
    return [(room, int(lc), int(sc)) for room, lc, sc in rows.all()]


async def add_moderation(
    session: AsyncSession,
    room_id: str,
    actor_id: str | None,
    action: str,
    target_id: str | None,
    now: dt.datetime,
) -> None:
    """Record a moderation action."""
    session.add(
        ModerationAction(
            room_id=room_id, actor_id=actor_id, action=action, target_id=target_id, created_at=now
        )
    )
    await session.flush()


async def moderation_log(session: AsyncSession, room_id: str) -> Sequence[ModerationAction]:
    """A room's moderation log, oldest first."""
    return (
        await session.scalars(
            select(ModerationAction)
            .where(ModerationAction.room_id == room_id)
            .order_by(ModerationAction.id)
        )
    ).all()


# --- scheduled rooms and RSVPs ----------------------------------------------------------------


async def scheduled_rooms_hosted_by(session: AsyncSession, user_id: str) -> int:
    """How many scheduled (not yet started) rooms a person has."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Room)
            .where(Room.host_id == user_id, Room.status == "scheduled")
        )
        or 0
    )


async def rsvps_of(session: AsyncSession, room_id: str, user_id: str | None) -> tuple[int, bool]:
    """How many people RSVP'd to a room, and whether ``user_id`` is one of them."""
    mine = (
        func.coalesce(func.sum(case((RoomRsvp.user_id == user_id, 1), else_=0)), 0)
        if user_id
        else literal(0)
    )
    row = (
        await session.execute(
            select(func.count(), mine).select_from(RoomRsvp).where(RoomRsvp.room_id == room_id)
        )
    ).one()
    return int(row[0]), bool(row[1])


async def add_rsvp(session: AsyncSession, room_id: str, user_id: str, now: dt.datetime) -> None:
    """Record an RSVP (twice is once)."""
    if await session.get(RoomRsvp, (room_id, user_id)) is None:
        session.add(RoomRsvp(room_id=room_id, user_id=user_id, created_at=now))
        await session.flush()


async def remove_rsvp(session: AsyncSession, room_id: str, user_id: str) -> None:
    """Take an RSVP back (none is fine)."""
    await session.execute(
        delete(RoomRsvp).where(RoomRsvp.room_id == room_id, RoomRsvp.user_id == user_id)
    )


def rsvp_user_ids(room_id: str) -> Select[str]:
    """The people who RSVP'd to a room and may still enter it (a query, for fan-out)."""
    return (
        select(RoomRsvp.user_id)
        .join(Room, Room.id == RoomRsvp.room_id)
        .join(User, User.id == RoomRsvp.user_id)
        .where(
            RoomRsvp.room_id == room_id, User.status == "active", room_visible_to(RoomRsvp.user_id)
        )
    )


def followers_who_may_enter(room_id: str, host_id: str) -> Select[str]:
    """The host's active followers who may enter the room (a query, for fan-out)."""
    return (
        select(Follow.follower_id)
        .join(Room, Room.id == room_id)
        .join(User, User.id == Follow.follower_id)
        .where(
            Follow.followee_id == host_id,
            Follow.follower_id != host_id,
            User.status == "active",
            room_visible_to(Follow.follower_id),
        )
    )


async def due_reminders(session: AsyncSession, before: dt.datetime, limit: int) -> Sequence[Room]:
    """Scheduled rooms starting before ``before`` whose reminders were not written yet."""
    return (
        await session.scalars(
            select(Room)
            .where(Room.status == "scheduled", Room.starts_at <= before, Room.reminded_at.is_(None))
            .order_by(Room.starts_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def lapsed_rooms(
    session: AsyncSession, started_before: dt.datetime, limit: int
) -> Sequence[Room]:
    """Scheduled rooms that should have started before ``started_before`` and never did."""
    return (
        await session.scalars(
            select(Room)
            .where(Room.status == "scheduled", Room.starts_at < started_before)
            .order_by(Room.starts_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def pings_since(session: AsyncSession, user_id: str, since: dt.datetime) -> int:
    """How many people ``user_id`` pinged into rooms since a time (their ``pinged`` notices)."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.kind == "pinged",
                Notification.created_at >= since,
                Notification.data["user_id"].as_string() == user_id,
            )
        )
        or 0
    )
