"""The hallway: live and upcoming rooms a person may enter, ranked for them.

The score (explained for people in docs/network.md) adds up

- **people**: each person on stage the viewer is connected with, 4 (at most 3 counted); each
  one they only follow, 3 (at most 3 counted). Upcoming rooms: a connected host 4, a followed
  host 3;
- **topics**: 1.5 for each room topic among the viewer's interests (their profile's skills and
  topics of interest and industry, and the topics of rooms they joined in the last 30 days), at
  most 3 counted;
- **industry**: 1 when the host's industry is the viewer's;
- **size** (live): 0.5 · log2(1 + people in the room); **RSVPs** (upcoming): 0.5 · log2(1 + RSVPs),
  and 5 when the viewer RSVP'd themselves;
- **freshness** (live): 2 · 0.5^(minutes live / 60), a half-life of an hour; **soonness**
  (upcoming): 2 · 0.5^(hours until start / 24).

Ties go to the newer (live) or sooner (upcoming) room. Four queries whatever the number of
rooms: the viewer's profile and recent rooms (two), the live candidates with every count
aggregated in SQL (the ``LIVE_CANDIDATES`` most recently started rooms the viewer may enter),
and the upcoming ones; the scores are computed here, so the formula reads as the docs say it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, case, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.network.models import Connection, Follow, Profile, avatar_url
from mitalk.rooms.models import Room, RoomParticipant, RoomRsvp
from mitalk.rooms.presenters import room_info
from mitalk.rooms.schemas import HALLWAY_STAGE_SHOWN, Hallway, RankedRoom, StagePerson, UpcomingRoom
from mitalk.rooms.visibility import blocked_either_way, room_visible_to

IN_ROOM = "in_room"
LIVE_CANDIDATES = 500
UPCOMING_CANDIDATES = 200
UPCOMING_DAYS = 7
INTEREST_DAYS = 30

CONNECTED_WEIGHT = 4.0
FOLLOWED_WEIGHT = 3.0
PEOPLE_CAP = 3
TOPIC_WEIGHT = 1.5
TOPIC_CAP = 3
INDUSTRY_WEIGHT = 1.0
SIZE_WEIGHT = 0.5
FRESHNESS_WEIGHT = 2.0
FRESHNESS_HALF_LIFE_MINUTES = 60.0
RSVPED_WEIGHT = 5.0
SOONNESS_HALF_LIFE_HOURS = 24.0


@dataclass(frozen=True)
class Viewer:
    """What the ranking knows about the person looking."""

    industry: str
    interests: frozenset[str]


def _fold(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(v.strip().casefold() for v in values if v and v.strip())


def shared_topics(topics: Sequence[str], viewer: Viewer) -> int:
    """How many of a room's topics are among the viewer's interests."""
    return len(_fold(topics) & viewer.interests)


def _affinity(topics: Sequence[str], host_industry: str | None, viewer: Viewer) -> float:
    score = TOPIC_WEIGHT * min(shared_topics(topics, viewer), TOPIC_CAP)
    if viewer.industry and (host_industry or "").strip().casefold() == viewer.industry:
        score += INDUSTRY_WEIGHT
    return score


def live_score(
    *,
    connected_on_stage: int,
    followed_on_stage: int,
    topics: Sequence[str],
    host_industry: str | None,
    people: int,
    minutes_live: float,
    viewer: Viewer,
) -> float:
    """The score of a live room for a viewer (see the module docstring)."""
    return float(
        CONNECTED_WEIGHT * min(connected_on_stage, PEOPLE_CAP)
        + FOLLOWED_WEIGHT * min(followed_on_stage, PEOPLE_CAP)
        + _affinity(topics, host_industry, viewer)
        + SIZE_WEIGHT * math.log2(1 + people)
        + FRESHNESS_WEIGHT * 0.5 ** (max(minutes_live, 0.0) / FRESHNESS_HALF_LIFE_MINUTES)
    )


def upcoming_score(
    *, host_connected: bool, host_followed: bool, topics: Sequence[str], host_industry: str | None,
    rsvps: int, rsvped: bool, hours_until: float, viewer: Viewer,
) -> float:
    """The score of an upcoming room for a viewer (see the module docstring)."""
    people = CONNECTED_WEIGHT if host_connected else FOLLOWED_WEIGHT if host_followed else 0.0
    return float(
        people
        + _affinity(topics, host_industry, viewer)
        + SIZE_WEIGHT * math.log2(1 + rsvps)
        + (RSVPED_WEIGHT if rsvped else 0.0)
        + FRESHNESS_WEIGHT * 0.5 ** (max(hours_until, 0.0) / SOONNESS_HALF_LIFE_HOURS)
    )


async def viewer_of(session: AsyncSession, user: User, now: dt.datetime) -> Viewer:
    """The viewer's industry and interests: profile skills, topics of interest and industry,
    recent rooms' topics."""
    profile = (
        await session.execute(
            select(Profile.industry, Profile.skills, Profile.topics).where(
                Profile.user_id == user.id
            )
        )
    ).one_or_none()
    industry, skills = (profile[0] or "", list(profile[1] or [])) if profile else ("", [])
    skills += list(profile[2] or []) if profile else []
    joined = await session.scalars(
        select(Room.topics)
        .join(RoomParticipant, RoomParticipant.room_id == Room.id)
        .where(
            RoomParticipant.user_id == user.id,
            RoomParticipant.joined_at >= now - dt.timedelta(days=INTEREST_DAYS),
        )
        .order_by(RoomParticipant.joined_at.desc())
        .limit(50)
    )
    topics = [t for room_topics in joined.all() for t in (room_topics or [])]
    return Viewer(
        industry=industry.strip().casefold(), interests=_fold([*skills, industry, *topics])
    )


def _total(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """How many joined rows meet the condition (0 when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _followees(user_id: str) -> Select[str]:
    return select(Follow.followee_id).where(Follow.follower_id == user_id)


def _connections(user_id: str) -> CompoundSelect[str]:
    accepted = Connection.status == "accepted"
    return union(
        select(Connection.addressee_id).where(accepted, Connection.requester_id == user_id),
        select(Connection.requester_id).where(accepted, Connection.addressee_id == user_id),
    )


async def live_rooms(
    session: AsyncSession, user: User, now: dt.datetime, limit: int, viewer: Viewer | None = None
) -> list[RankedRoom]:
    """Live rooms the person may enter, best first, with listener and on-stage counts."""
    viewer = viewer or await viewer_of(session, user, now)
    present = RoomParticipant.presence == IN_ROOM
    on_stage = and_(present, RoomParticipant.role != "listener")
    connected = RoomParticipant.user_id.in_(_connections(user.id))
    followed = RoomParticipant.user_id.in_(_followees(user.id))
    rows = await session.execute(
        select(
            Room,
            _total(and_(present, RoomParticipant.role == "listener")),
            _total(on_stage),
            _total(and_(on_stage, RoomParticipant.user_id != user.id, connected)),
            _total(and_(on_stage, RoomParticipant.user_id != user.id, followed, ~connected)),
            func.max(Profile.industry),
        )
        .outerjoin(RoomParticipant, RoomParticipant.room_id == Room.id)
        .outerjoin(Profile, Profile.user_id == Room.host_id)
        .where(Room.status == "live", room_visible_to(user.id))
        .group_by(Room.id)
        .order_by(func.coalesce(Room.started_at, Room.created_at).desc(), Room.id)
        .limit(LIVE_CANDIDATES)
    )
    ranked = []
    for room, listeners, speakers, n_connected, n_followed, host_industry in rows.all():
        started = room.started_at or room.created_at
        score = live_score(
            connected_on_stage=int(n_connected),
            followed_on_stage=int(n_followed),
            topics=room.topics,
            host_industry=host_industry,
            people=int(listeners) + int(speakers),
            minutes_live=(now - started).total_seconds() / 60,
            viewer=viewer,
        )
        ranked.append((score, started, room, int(listeners), int(speakers)))
    ranked.sort(key=lambda r: (-r[0], -r[1].timestamp(), r[2].id))
    chosen = ranked[:limit]
    stages = await stage_people(session, [room.id for _, _, room, _, _ in chosen], user.id)
    return [
        RankedRoom(
            **room_info(room).model_dump(), listener_count=lc, speaker_count=sc,
            speakers=stages.get(room.id, []), score=round(score, 4),
        )
        for score, _, room, lc, sc in chosen
    ]


async def stage_people(
    session: AsyncSession, room_ids: list[str], viewer_id: str
) -> dict[str, list[StagePerson]]:
    """The first people on each room's stage (moderators, then speakers, longest there first).

    One query for every listed room; at most ``HALLWAY_STAGE_SHOWN`` people each. Someone the
    viewer blocked, or who blocked the viewer, is never shown (the counts still include them).
    """
    if not room_ids:
        return {}
    rows = await session.execute(
        select(
            RoomParticipant.room_id,
            RoomParticipant.user_id,
            RoomParticipant.role,
            Profile.name,
            Profile.avatar_hash,
        )
        .outerjoin(Profile, Profile.user_id == RoomParticipant.user_id)
        .where(
            RoomParticipant.room_id.in_(room_ids),
            RoomParticipant.presence == IN_ROOM,
            RoomParticipant.role != "listener",
            ~blocked_either_way(viewer_id, RoomParticipant.user_id),
        )
        .order_by(
            RoomParticipant.room_id,
            case((RoomParticipant.role == "moderator", 0), else_=1),
            RoomParticipant.joined_at,
            RoomParticipant.user_id,
        )
    )
    stages: dict[str, list[StagePerson]] = {}
    for room_id, user_id, role, name, avatar_hash in rows.all():
        shown = stages.setdefault(room_id, [])
        if len(shown) < HALLWAY_STAGE_SHOWN:
            shown.append(
                StagePerson(
                    user_id=user_id,
                    name=name or "",
                    avatar_url=avatar_url(user_id, avatar_hash),
                    role=role,
                )
            )
    return stages


async def upcoming_rooms(
    session: AsyncSession, user: User, now: dt.datetime, limit: int, viewer: Viewer | None = None
) -> list[UpcomingRoom]:
    """Scheduled rooms in the next week the person may enter, best first, with RSVPs."""
    viewer = viewer or await viewer_of(session, user, now)
    rsvps = (
        select(
            RoomRsvp.room_id,
            func.count().label("n"),
            func.sum(case((RoomRsvp.user_id == user.id, 1), else_=0)).label("mine"),
        )
        .group_by(RoomRsvp.room_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Room,
            func.coalesce(rsvps.c.n, 0),
            func.coalesce(rsvps.c.mine, 0),
            Room.host_id.in_(_connections(user.id)),
            Room.host_id.in_(_followees(user.id)),
            Profile.industry,
        )
        .outerjoin(rsvps, rsvps.c.room_id == Room.id)
        .outerjoin(Profile, Profile.user_id == Room.host_id)
        .where(
            Room.status == "scheduled",
            Room.starts_at <= now + dt.timedelta(days=UPCOMING_DAYS),
            room_visible_to(user.id),
        )
        .order_by(Room.starts_at, Room.id)
        .limit(UPCOMING_CANDIDATES)
    )
    ranked = []
    for room, n, mine, host_connected, host_followed, host_industry in rows.all():
        assert room.starts_at is not None
        score = upcoming_score(
            host_connected=bool(host_connected),
            host_followed=bool(host_followed),
            topics=room.topics,
            host_industry=host_industry,
            rsvps=int(n),
            rsvped=bool(mine),
            hours_until=(room.starts_at - now).total_seconds() / 3600,
            viewer=viewer,
        )
        ranked.append((score, room, int(n), bool(mine)))
    ranked.sort(key=lambda r: (-r[0], r[1].starts_at, r[1].id))
    return [
        UpcomingRoom(
            **room_info(room).model_dump(), rsvp_count=n, rsvped=mine, score=round(score, 4)
        )
        for score, room, n, mine in ranked[:limit]
    ]


async def hallway(session: AsyncSession, user: User, now: dt.datetime, limit: int = 50) -> Hallway:
    """Live and upcoming rooms for the person, each list best first."""
    viewer = await viewer_of(session, user, now)
    return Hallway(
        live=await live_rooms(session, user, now, limit, viewer),
        upcoming=await upcoming_rooms(session, user, now, limit, viewer),
    )

