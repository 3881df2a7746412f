"""The rules of rooms: who may enter, roles, hands, mutes, removal, hand-over and ending.

Every change locks the room's row first, bumps the room's ``seq`` for each event it causes,
and queues the events to be published only after the transaction commits. Lock order is
always room, then participants, so two changes to one room queue instead of deadlocking.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.models import User
from mitalk.core.errors import AppError, RateLimited
from mitalk.core.messages import Message
from mitalk.core.ratelimit import RateLimiter
from mitalk.core.settings import Settings
from mitalk.network import repository as network_repo
from mitalk.network.service import require_name
from mitalk.notifications.service import Kind, notify, notify_many
from mitalk.realtime.bus import EventBus, contiguous, publish_after_commit
from mitalk.realtime.events import EventBase
from mitalk.rooms import hallway as ranking
from mitalk.rooms import repository as repo
from mitalk.rooms.errors import (
    AlreadyOnStage,
    CannotRemoveHost,
    CannotRemoveModerator,
    CannotRemoveSelf,
    InvalidStartTime,
    LastModerator,
    ListenersCannotUnmute,
    NotAFollower,
    NotAModerator,
    NotInRoom,
    NotInvited,
    NotOnStage,
    NotTheHost,
    RemovedFromRoom,
    ResyncRequired,
    RoomEnded,
    RoomFull,
    RoomNotFound,
    RoomNotScheduled,
    RoomNotStarted,
    StageFull,
    TargetIsModerator,
    TargetNotInRoom,
    TooManyLiveRooms,
    TooManyPings,
    TooManyScheduledRooms,
    UserNotFound,
)
from mitalk.rooms.events import (
    Ended,
    HandLowered,
    HandRaised,
    Muted,
    ParticipantJoined,
    ParticipantLeft,
    Removed,
    RoleChanged,
    RoomCreated,
    StateEvent,
    Unmuted,
)
from mitalk.rooms.models import ModerationAction, Room, RoomInvite, RoomParticipant
from mitalk.rooms.presenters import participant_out, room_info, room_out
from mitalk.rooms.repository import IN_ROOM, LEFT, REMOVED
from mitalk.rooms.schedule import calendar_file
from mitalk.rooms.schemas import (
    HallwayRoom,
    ParticipantOut,
    Role,
    RoomCreate,
    RoomOut,
    RsvpOut,
)

HALLWAY_SIZE = 50

log = structlog.get_logger(__name__)


# --- reading ---------------------------------------------------------------------------------


async def _check_may_enter(session: AsyncSession, room: Room, user: User) -> RoomParticipant | None:
    """Raise unless the person may see and enter the room; returns their row, if any."""
    row = await repo.participant(session, room.id, user.id)
    # Blocked either way: the host's rooms do not exist for this person (404, not 403), even
    # the ones the block took them out of.
    if room.host_id != user.id and await network_repo.is_blocked_between(
        session, room.host_id, user.id
    ):
        raise RoomNotFound()
    if row is not None and row.presence == REMOVED:
        raise RemovedFromRoom()
    if room.host_id == user.id:
        return row
    # Social rooms admit the people the host follows and the host's connections; closed rooms
    # only invited people (an invitation opens a social room too).
    if room.visibility == "open" or await repo.is_invited(session, room.id, user.id):
        return row
    if room.visibility == "social" and (
        await network_repo.follows(session, room.host_id, user.id)
        or user.id in await network_repo.connection_ids(session, room.host_id)
    ):
        return row
    raise NotInvited()


async def visible_room(session: AsyncSession, room_id: str, user: User) -> Room:
    """A room the person may see, read consistently with its ``seq``."""
    room = await repo.room_by_id(session, room_id, lock="share")
    if room is None:
        raise RoomNotFound()
    await _check_may_enter(session, room, user)
    return room


async def get_room(session: AsyncSession, room_id: str, user: User) -> RoomOut:
    """A room and the people in it, if the person may see it (ended rooms too)."""
    return await room_out(session, await visible_room(session, room_id, user), user.id)


async def hallway(session: AsyncSession, user: User, now: dt.datetime) -> list[HallwayRoom]:
    """Live rooms the person may enter, best first (the ranking of ``rooms.hallway``)."""
    return [
        HallwayRoom(**r.model_dump(exclude={"score"}))
        for r in await ranking.live_rooms(session, user, now, HALLWAY_SIZE)
    ]


async def calendar(
    session: AsyncSession, room_id: str, user: User, base_url: str, now: dt.datetime
) -> bytes:
    """The room as an .ics calendar file, for people who may see it."""
    room = await visible_room(session, room_id, user)
    return calendar_file(room, f"{base_url.rstrip('/')}/#/room/{room.id}", now)


async def moderation_log(session: AsyncSession, room_id: str, user: User) -> list[ModerationAction]:
    """A room's moderation log, for its host (always) and the moderators in it."""
    room = await visible_room(session, room_id, user)
    if room.host_id != user.id:
        await _moderator(session, room, user)
    return list(await repo.moderation_log(session, room.id))


# --- changing --------------------------------------------------------------------------------


def _emit(
    session: AsyncSession,
    bus: EventBus,
    room: Room,
    event_type: type[StateEvent],
    now: dt.datetime,
    /,
    **fields: Any,
) -> StateEvent:
    """Number an event with the room's next seq and publish it once the transaction commits."""
    room.seq += 1
    event = event_type(room_id=room.id, seq=room.seq, at=now, **fields)
    publish_after_commit(session, bus, event)
    return event


async def _live_room(session: AsyncSession, room_id: str) -> Room:
    """The room, row-locked for a change; it must be live."""
    room = await repo.room_by_id(session, room_id, lock="update")
    if room is None:
        raise RoomNotFound()
    if room.status == "scheduled":
        raise RoomNotStarted()
    if room.status != "live":
        raise RoomEnded()
    return room


async def _present(session: AsyncSession, room: Room, user: User) -> RoomParticipant:
    """The caller's row; they must be in the room."""
    row = await repo.participant(session, room.id, user.id)
    if row is not None and row.presence == REMOVED:
        raise RemovedFromRoom()
    if row is None or row.presence != IN_ROOM:
        raise NotInRoom()
    return row


async def _moderator(session: AsyncSession, room: Room, user: User) -> RoomParticipant:
    """The caller's row; they must be a moderator in the room."""
    row = await _present(session, room, user)
    if row.role != "moderator":
        raise NotAModerator()
    return row


async def _target(session: AsyncSession, room: Room, user_id: str) -> RoomParticipant:
    """The row of the person an action is about; they must be in the room."""
    row = await repo.participant(session, room.id, user_id)
    if row is None or row.presence != IN_ROOM:
        raise TargetNotInRoom()
    return row


async def _acted_on(
    session: AsyncSession, room_id: str, actor: User, user_id: str, *, or_self: bool
) -> tuple[Room, RoomParticipant]:
    """The live room (locked) and the row of the person a stage action is about.

    A moderator acts on anyone in the room; with ``or_self`` anyone in it also acts on
    themselves. The checks run in this order: live room, actor present, moderator, target present.
    """
    room = await _live_room(session, room_id)
    actor_row = await _present(session, room, actor)
    if or_self and user_id == actor.id:
        return room, actor_row
    if actor_row.role != "moderator":
        raise NotAModerator()
    return room, await _target(session, room, user_id)


async def _record(
    session: AsyncSession, room: Room, actor: User, action: str, user_id: str, now: dt.datetime,
    *, logged: bool = True,
) -> None:
    """Write a stage action: its moderation log entry (unless someone acted on themselves)."""
    if logged:
        await repo.add_moderation(session, room.id, actor.id, action, user_id, now)
    await session.flush()


async def _shown(session: AsyncSession, row: RoomParticipant) -> ParticipantOut:
    """The person an action was about, as the API shows them after it."""
    return participant_out(row, *await repo.face_of(session, row.user_id))


def _change_role(
    session: AsyncSession,
    bus: EventBus,
    room: Room,
    row: RoomParticipant,
    role: Role,
    by: str | None,
    now: dt.datetime,
) -> None:
    """Give someone a new role and announce it (stage entry mutes; leaving the stage resets)."""
    previous: Role = row.role  # type: ignore[assignment]
    if role == "listener":
        row.hand_raised, row.muted, row.on_stage_seq = False, True, None
    elif previous == "listener":
        row.hand_raised, row.muted, row.on_stage_seq = False, True, room.seq + 1
    row.role = role
    _emit(
        session,
        bus,
        room,
        RoleChanged,
        now,
        user_id=row.user_id,
        role=role,
        previous_role=previous,
        hand_raised=row.hand_raised,
        muted=row.muted,
        by=by,
    )


async def create_room(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    host: User,
    body: RoomCreate,
    now: dt.datetime,
) -> RoomOut:
    """Open a room (its creator is its moderator, on stage and unmuted), or schedule it."""
    await repo.lock_user(session, host.id)
    topics = list({t.casefold(): t for t in reversed(body.topics)}.values())[::-1]
    if body.starts_at is not None:
        return await _schedule(session, settings, host, body, topics, now)
    _check_live_limit(settings, await repo.live_rooms_hosted_by(session, host.id))
    room = await repo.add_room(session, host.id, body.title, topics, body.visibility, now)
    room.started_at = now
    await _go_live(session, bus, settings, room, now)
    return await room_out(session, room, host.id)


def _check_live_limit(settings: Settings, live: int) -> None:
    if live >= settings.room_max_live_per_host:
        raise TooManyLiveRooms(
            f"You host {settings.room_max_live_per_host} live rooms, the most one person may: "
            "end one first."
        )


async def _schedule(
    session: AsyncSession,
    settings: Settings,
    host: User,
    body: RoomCreate,
    topics: list[str],
    now: dt.datetime,
) -> RoomOut:
    """Store a scheduled room: no people, no stage, no events until its host starts it."""
    assert body.starts_at is not None
    starts_at = body.starts_at.astimezone(dt.UTC)
    latest = now + dt.timedelta(days=settings.room_schedule_max_days)
    if not now + dt.timedelta(minutes=1) <= starts_at <= latest:
        raise InvalidStartTime(
            "starts_at must be at least a minute ahead and at most "
            f"{settings.room_schedule_max_days} days ahead."
        )
    if (
        await repo.scheduled_rooms_hosted_by(session, host.id)
        >= settings.room_max_scheduled_per_host
    ):
        raise TooManyScheduledRooms(
            f"You have {settings.room_max_scheduled_per_host} scheduled rooms, the most one person "
            "may: start or cancel one first."
        )
    room = await repo.add_room(session, host.id, body.title, topics, body.visibility, now)
    room.status, room.starts_at = "scheduled", starts_at
    await session.flush()
    return await room_out(session, room, host.id)


async def _go_live(
    session: AsyncSession, bus: EventBus, settings: Settings, room: Room, now: dt.datetime
) -> None:
    """Make a room live: ``room.created`` (the media layer builds its stage on it), the host
    on stage, and the host's followers (who may enter) told."""
    _emit(session, bus, room, RoomCreated, now, room=room_info(room))
    row = await repo.add_participant(
        session, room.id, room.host_id, "moderator", muted=False, on_stage_seq=room.seq + 1, now=now
    )
    name, avatar = await repo.face_of(session, room.host_id)
    _emit(
        session, bus, room, ParticipantJoined, now, participant=participant_out(row, name, avatar)
    )
    await network_repo.record_arrival(session, room.id, room.host_id, now)
    await session.flush()
    link = {"room_id": room.id, "user_id": room.host_id}
    await notify_many(
        session, bus, repo.followers_who_may_enter(room.id, room.host_id), Kind.room_started,
        Message("notice.room_started", {"name": name, "room": room.title})
        if name
        else Message("notice.room_starting", {"room": room.title}),
        f"room_started:{room.id}",
        now=now, data=link,
    )


async def start_room(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    room_id: str,
    user: User,
    now: dt.datetime,
) -> RoomOut:
    """The host starts a scheduled room: it goes live like a room opened now, and the people
    who RSVP'd are told (in-app; by text too with ``MITALK_ROOM_START_SMS``)."""
    await repo.lock_user(session, user.id)  # the live-room limit, as in create_room
    room = await repo.room_by_id(session, room_id, lock="update")
    if room is None:
        raise RoomNotFound()
    await _check_may_enter(session, room, user)
    if room.host_id != user.id:
        raise NotTheHost("Only the room's host may start it.")
    if room.status == "live":
        raise RoomNotScheduled("This room is live already.")
    if room.status != "scheduled":
        raise RoomEnded()
    _check_live_limit(settings, await repo.live_rooms_hosted_by(session, user.id))
    room.status, room.started_at = "live", now
    await _go_live(session, bus, settings, room, now)
    await notify_many(
        session, bus, repo.rsvp_user_ids(room.id), Kind.room_starting,
        Message("notice.room_starting", {"room": room.title}), f"room_starting:{room.id}", now=now,
        data={"room_id": room.id}, sms=settings.room_start_sms,
    )
    return await room_out(session, room, user.id)


async def set_rsvp(
    session: AsyncSession, room_id: str, user: User, going: bool, now: dt.datetime
) -> RsvpOut:
    """Say you will come to a scheduled room (reminders then reach you), or take it back."""
    room = await repo.room_by_id(session, room_id, lock="update")
    if room is None:
        raise RoomNotFound()
    await _check_may_enter(session, room, user)
    if going:
        if room.status != "scheduled":
            raise RoomNotScheduled()
        await repo.add_rsvp(session, room.id, user.id, now)
    else:
        await repo.remove_rsvp(session, room.id, user.id)
    count, rsvped = await repo.rsvps_of(session, room.id, user.id)
    return RsvpOut(room_id=room.id, rsvped=rsvped, rsvp_count=count)


async def join(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    room_id: str,
    user: User,
    now: dt.datetime,
) -> RoomOut:
    """Enter a room as a listener, or with the role held before; on stage, always muted.

    Joining again while in the room (a page reopened after the browser closed) changes nothing
    but that: whatever the last client did, nobody is live without a tap of their own.
    """
    room = await _live_room(session, room_id)
    row = await _check_may_enter(session, room, user)
    if row is not None and row.presence == IN_ROOM:
        if row.role != "listener" and not row.muted:
            row.muted = True
            _emit(session, bus, room, Muted, now, user_id=user.id, by=user.id)
            await session.flush()
        return await room_out(session, room, user.id)
    if await repo.count_present(session, room.id) >= settings.room_max_participants:
        raise RoomFull(f"This room is full ({settings.room_max_participants} people).")
    if row is None:
        row = await repo.add_participant(
            session, room.id, user.id, "listener", muted=True, on_stage_seq=None, now=now
        )
    else:
        row.presence, row.hand_raised, row.joined_at = IN_ROOM, False, now
        row.muted = True  # back on stage, but not live until they unmute themselves
    name, avatar = await repo.face_of(session, user.id)
    _emit(
        session, bus, room, ParticipantJoined, now, participant=participant_out(row, name, avatar)
    )
    await network_repo.record_arrival(session, room.id, user.id, now)
    await session.flush()
    return await room_out(session, room, user.id)


async def leave(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, now: dt.datetime
) -> None:
    """Leave a room; if the last moderator leaves, the longest-standing speaker takes over,
    and without speakers the room ends."""
    room = await _live_room(session, room_id)
    row = await _present(session, room, user)
    row.presence, row.hand_raised = LEFT, False
    _emit(session, bus, room, ParticipantLeft, now, user_id=user.id)
    await network_repo.record_departure(session, room.id, user.id, now)
    await session.flush()
    if row.role == "moderator" and await repo.count_present_moderators(session, room.id) == 0:
        await _hand_over_or_end(session, bus, room, now)


async def _hand_over_or_end(
    session: AsyncSession, bus: EventBus, room: Room, now: dt.datetime
) -> None:
    successor = await repo.longest_standing_speaker(session, room.id)
    if successor is not None:
        _change_role(session, bus, room, successor, "moderator", None, now)
        await repo.add_moderation(session, room.id, None, "hand_over", successor.user_id, now)
    else:
        await _end(session, bus, room, None, "no_moderator_left", now)
        await repo.add_moderation(session, room.id, None, "end", None, now)
    await session.flush()


async def _end(
    session: AsyncSession, bus: EventBus, room: Room, by: str | None, reason: str, now: dt.datetime
) -> None:
    room.status, room.ended_at = "ended", now
    await repo.empty_room(session, room.id)
    await network_repo.record_departure(session, room.id, None, now)
    _emit(session, bus, room, Ended, now, reason=reason, by=by)


async def end(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, now: dt.datetime
) -> None:
    """A moderator ends the room for everyone; the host cancels a scheduled room."""
    scheduled = await repo.room_by_id(session, room_id, lock="update")
    if scheduled is not None and scheduled.status == "scheduled":
        if scheduled.host_id != user.id:
            raise NotTheHost("Only the room's host may cancel it.")
        scheduled.status, scheduled.ended_at = "ended", now
        await repo.add_moderation(session, scheduled.id, user.id, "cancel", None, now)
        await session.flush()
        return
    room = await _live_room(session, room_id)
    await _moderator(session, room, user)
    await _end(session, bus, room, user.id, "ended_by_moderator", now)
    await repo.add_moderation(session, room.id, user.id, "end", None, now)
    await session.flush()


async def set_hand(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, raised: bool, now: dt.datetime
) -> ParticipantOut:
    """Raise or lower your own hand (listeners only; the same twice changes nothing)."""
    room = await _live_room(session, room_id)
    row = await _present(session, room, user)
    if raised and row.role != "listener":
        raise AlreadyOnStage()
    if raised and not row.hand_raised:
        await require_name(session, user.id)
    if row.hand_raised != raised:
        row.hand_raised = raised
        _emit(session, bus, room, HandRaised if raised else HandLowered, now, user_id=user.id)
        await session.flush()
    return participant_out(row, *await repo.face_of(session, user.id))


async def bring_on_stage(
    session: AsyncSession,
    bus: EventBus,
    settings: Settings,
    room_id: str,
    moderator: User,
    user_id: str,
    now: dt.datetime,
) -> ParticipantOut:
    """A moderator makes a listener a speaker (muted until they unmute themselves)."""
    room, row = await _acted_on(session, room_id, moderator, user_id, or_self=False)
    if row.role == "listener":
        if await repo.count_present(session, room.id, on_stage=True) >= settings.room_max_on_stage:
            raise StageFull(f"The stage is full ({settings.room_max_on_stage} people).")
        _change_role(session, bus, room, row, "speaker", moderator.id, now)
        await _record(session, room, moderator, "bring_on_stage", user_id, now)
        # One notice per stage entry (the room's seq numbers it): coming back later is news again.
        await notify(
            session, bus, user_id, Kind.brought_on_stage,
            Message("notice.brought_on_stage", {"room": room.title}),
            f"on_stage:{room.id}:{user_id}:{room.seq}", now=now,
            data={"room_id": room.id, "user_id": moderator.id},
        )
    return await _shown(session, row)


async def move_off_stage(
    session: AsyncSession, bus: EventBus, room_id: str, actor: User, user_id: str, now: dt.datetime
) -> ParticipantOut:
    """A moderator moves a speaker back to the audience, or someone steps down themselves."""
    room, row = await _acted_on(session, room_id, actor, user_id, or_self=True)
    stepping_down = user_id == actor.id
    if row.role == "moderator":
        if not stepping_down:
            raise TargetIsModerator("That person is a moderator: they may step down themselves.")
        if await repo.count_present_moderators(session, room.id) <= 1:
            raise LastModerator()
    if row.role != "listener":
        _change_role(session, bus, room, row, "listener", actor.id, now)
        await _record(
            session, room, actor, "move_off_stage", user_id, now, logged=not stepping_down
        )
    return await _shown(session, row)


async def make_moderator(
    session: AsyncSession,
    bus: EventBus,
    room_id: str,
    moderator: User,
    user_id: str,
    now: dt.datetime,
) -> ParticipantOut:
    """A moderator makes a speaker a moderator too."""
    room, row = await _acted_on(session, room_id, moderator, user_id, or_self=False)
    if row.role == "listener":
        raise NotOnStage("Bring them on stage first: only speakers can become moderators.")
    if row.role == "speaker":
        _change_role(session, bus, room, row, "moderator", moderator.id, now)
        await _record(session, room, moderator, "make_moderator", user_id, now)
    return await _shown(session, row)


async def mute(
    session: AsyncSession, bus: EventBus, room_id: str, actor: User, user_id: str, now: dt.datetime
) -> ParticipantOut:
    """A moderator mutes someone on stage; anyone on stage may mute themselves."""
    room, row = await _acted_on(session, room_id, actor, user_id, or_self=True)
    if row.role == "listener":
        raise NotOnStage("Listeners are never heard: there is nothing to mute.")
    if not row.muted:
        row.muted = True
        _emit(session, bus, room, Muted, now, user_id=user_id, by=actor.id)
        await _record(session, room, actor, "mute", user_id, now, logged=user_id != actor.id)
    return await _shown(session, row)


async def unmute_self(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, now: dt.datetime
) -> ParticipantOut:
    """Someone on stage unmutes themselves (even after a moderator muted them); never a listener."""
    room = await _live_room(session, room_id)
    row = await _present(session, room, user)
    if row.role == "listener":
        raise ListenersCannotUnmute()
    if row.muted:
        await require_name(session, user.id)
        row.muted = False
        _emit(session, bus, room, Unmuted, now, user_id=user.id)
        await session.flush()
    return participant_out(row, *await repo.face_of(session, user.id))


async def count_action(limiter: RateLimiter, settings: Settings, user: User) -> None:
    """Count one room action that fans out to a room; ``rate_limited`` (429) past the minute's
    allowance (``MITALK_ROOM_ACTIONS_PER_MINUTE`` per account, across rooms)."""
    allowance = settings.room_actions_per_minute
    try:
        await limiter.hit("room-action", user.id, allowance, 60)
    except RateLimited as exc:
        raise RateLimited(
            exc.retry_after,
            f"Too many room actions (at most {allowance} a minute, each reaches everyone in "
            f"the room). Try again in {exc.retry_after} seconds.",
        ) from exc


async def remove(
    session: AsyncSession,
    bus: EventBus,
    room_id: str,
    moderator: User,
    user_id: str,
    now: dt.datetime,
) -> None:
    """A moderator removes someone; they cannot come back. Only the host removes moderators,
    and nobody removes the host: stepping down to the audience (or leaving and coming back)
    keeps the creator's room theirs."""
    room = await _live_room(session, room_id)
    await _moderator(session, room, moderator)
    if user_id == moderator.id:
        raise CannotRemoveSelf()
    row = await _target(session, room, user_id)
    if user_id == room.host_id:
        raise CannotRemoveHost()
    if row.role == "moderator" and moderator.id != room.host_id:
        raise CannotRemoveModerator()
    await _put_out(session, bus, room, row, moderator.id, now)
    await repo.add_moderation(session, room.id, moderator.id, "remove", user_id, now)
    await session.flush()


async def _put_out(
    session: AsyncSession,
    bus: EventBus,
    room: Room,
    row: RoomParticipant,
    by: str,
    now: dt.datetime,
) -> None:
    """Take someone out of a room for good: ``room.removed`` closes their socket and audio."""
    row.presence, row.hand_raised, row.muted, row.on_stage_seq = REMOVED, False, True, None
    row.role = "listener"
    _emit(session, bus, room, Removed, now, user_id=row.user_id, by=by)
    await network_repo.record_departure(session, room.id, row.user_id, now)


async def part_after_block(
    session: AsyncSession, bus: EventBus, blocker: User, blocked_id: str, now: dt.datetime
) -> None:
    """A block separates two people in rooms too (the network service calls this).

    The blocked person is removed from the live rooms the blocker hosts (as if the host removed
    them: their socket closes and their audio stops, and they cannot come back), the blocker
    leaves the live rooms the blocked person hosts, and invitations and RSVPs to each other's
    rooms are forgotten, so that unblocking brings none of them back.
    """
    for room_id in await repo.live_rooms_with(session, blocker.id, blocked_id):
        room = await _live_room(session, room_id)
        row = await repo.participant(session, room.id, blocked_id)
        if row is None or row.presence != IN_ROOM:
            continue
        was_moderator = row.role == "moderator"
        await _put_out(session, bus, room, row, blocker.id, now)
        await repo.add_moderation(session, room.id, blocker.id, "remove", blocked_id, now)
        await session.flush()
        if was_moderator and await repo.count_present_moderators(session, room.id) == 0:
            await _hand_over_or_end(session, bus, room, now)
    for room_id in await repo.live_rooms_with(session, blocked_id, blocker.id):
        await leave(session, bus, room_id, blocker, now)
    await repo.drop_invites_and_rsvps(session, blocker.id, blocked_id)
    await repo.drop_invites_and_rsvps(session, blocked_id, blocker.id)


async def part_after_suspension(
    session: AsyncSession, bus: EventBus, user: User, now: dt.datetime
) -> int:
    """A suspended person leaves every live room they are in, as if they had left themselves
    (``room.participant_left``: the media layer drops their seat and audio, as for anyone who
    leaves; their sockets closed with their sessions); a room they ran passes to its
    longest-standing speaker or ends. Not a removal: once the suspension ends they may come
    back. Each room on its own savepoint, so a room that ends meanwhile skips only itself.
    Returns how many rooms they left."""
    left = 0
    for room_id in await repo.live_rooms_present_in(session, user.id):
        try:
            async with session.begin_nested():
                await leave(session, bus, room_id, user, now)
            left += 1
        except AppError as error:  # the room ended, or they left, since the list was read
            log.info("suspension_part_skipped", room=room_id, code=error.code)
    return left


PINGS_PER_HOUR = 30


async def ping(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, user_id: str,
    now: dt.datetime,
) -> bool:
    """Ask one of your followers into the room you are in (a notice linking to it, once per
    room and person); in a social or closed room that also invites them. True when sent now.
    """
    room = await _live_room(session, room_id)
    me = await _present(session, room, user)
    if room.visibility != "open" and me.role != "moderator":
        # A social or closed room is entered by invitation, which only moderators give.
        raise NotAModerator("In a room that is not open, only moderators may ping people in.")
    if user_id == user.id or not await network_repo.follows(session, user_id, user.id):
        raise NotAFollower()
    target = await accounts_repo.user_by_id(session, user_id)
    if target is None or target.status != "active":
        raise NotAFollower()
    if await network_repo.is_blocked_between(session, user.id, user_id):
        raise NotAFollower()
    await require_name(session, user.id)
    if await repo.pings_since(session, user.id, now - dt.timedelta(hours=1)) >= PINGS_PER_HOUR:
        raise TooManyPings()
    if room.visibility != "open":
        await repo.add_invite(session, room.id, user_id, user.id, now)
    name, _ = await repo.face_of(session, user.id)
    sent = await notify(
        session, bus, user_id, Kind.pinged,
        Message("notice.pinged", {"name": name, "room": room.title}),
        f"ping:{room.id}:{user_id}", now=now, data={"room_id": room.id, "user_id": user.id},
    )
    return sent is not None


async def invite(
    session: AsyncSession, room_id: str, moderator: User, user_id: str, now: dt.datetime
) -> RoomInvite:
    """A moderator invites a member into the room (how social and closed rooms are entered)."""
    room = await _live_room(session, room_id)
    await _moderator(session, room, moderator)
    invitee = await accounts_repo.user_by_id(session, user_id)
    if invitee is None or invitee.status != "active":
        raise UserNotFound()
    invite_row, created = await repo.add_invite(session, room.id, user_id, moderator.id, now)
    if created:
        await repo.add_moderation(session, room.id, moderator.id, "invite", user_id, now)
    return invite_row


async def events_after(
    session: AsyncSession, bus: EventBus, room_id: str, user: User, after: int
) -> tuple[int, list[EventBase]]:
    """The room's seq and its events after ``after`` (all of them, or ``resync_required``)."""
    room = await visible_room(session, room_id, user)
    if after > room.seq:
        raise ResyncRequired("That sequence number is ahead of the room: fetch the room again.")
    events = contiguous(await bus.history(room.id, after), after, room.seq)
    if events is None:
        raise ResyncRequired()
    return room.seq, events
