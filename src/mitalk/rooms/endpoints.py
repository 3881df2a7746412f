"""HTTP routes of rooms: create, hallway, join and leave, hands, stage, mutes, removal, end."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel

from mitalk.accounts.dependencies import CurrentMember
from mitalk.core.deps import AppSettings, DbSession, Limiter, Now
from mitalk.core.errors import NotActive, NotAuthenticated, RateLimited, error_responses
from mitalk.network import service as network
from mitalk.network.errors import NameRequired
from mitalk.network.schemas import MetListOut
from mitalk.realtime.dependencies import Bus
from mitalk.rooms import errors, service
from mitalk.rooms import hallway as ranking
from mitalk.rooms.events import RoomEvent
from mitalk.rooms.schemas import (
    Hallway,
    HallwayOut,
    ModerationEntryOut,
    ModerationLogOut,
    ParticipantOut,
    RoomCreate,
    RoomInviteOut,
    RoomOut,
    RsvpOut,
    UserRef,
)

router = APIRouter(prefix="/rooms", tags=["rooms"])
hallway_router = APIRouter(tags=["rooms"])

# Every action on a live room can meet these.
_ROOM = (NotAuthenticated, NotActive, errors.RoomNotFound, errors.RoomEnded)
_IN_ROOM = (*_ROOM, errors.NotInRoom, errors.RemovedFromRoom)
_MODERATED = (*_IN_ROOM, errors.NotAModerator, errors.TargetNotInRoom)


async def _count_room_action(
    member: CurrentMember, limiter: Limiter, settings: AppSettings
) -> None:
    """Actions that reach everyone in a room count against the account's allowance."""
    await service.count_action(limiter, settings, member)


# On every route whose action fans out (leaving and ending are never refused).
_COUNTED = [Depends(_count_room_action)]


class EventPage(BaseModel):
    """A room's events after a sequence number, and the room's sequence number now."""

    seq: int
    events: list[RoomEvent]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RoomOut,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited,
        NotAuthenticated,
        NotActive,
        errors.TooManyLiveRooms,
        errors.TooManyScheduledRooms,
        errors.InvalidStartTime,
    ),
)
async def create_room(
    body: RoomCreate,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    settings: AppSettings,
    now: Now,
) -> RoomOut:
    """Open a room (you are its moderator, on stage), or schedule it with ``starts_at``."""
    return await service.create_room(session, bus, settings, member, body, now)


@router.get("", response_model=HallwayOut, responses=error_responses(NotAuthenticated, NotActive))
async def hallway(member: CurrentMember, session: DbSession, now: Now) -> HallwayOut:
    """The hallway: live rooms you may enter, best first (see ``GET /hallway``), with counts."""
    return HallwayOut(rooms=await service.hallway(session, member, now))


@hallway_router.get(
    "/hallway", response_model=Hallway, responses=error_responses(NotAuthenticated, NotActive)
)
async def ranked_hallway(member: CurrentMember, session: DbSession, now: Now) -> Hallway:
    """Live rooms and upcoming scheduled rooms (next 7 days) you may enter, each ranked for you by
    the people you follow and are connected with on stage, shared topics and industry, size and
    freshness; ``score`` is the ranking value (docs/network.md explains it)."""
    return await ranking.hallway(session, member, now)


@router.post(
    "/{room_id}/start",
    response_model=RoomOut,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited,
        *_ROOM,
        errors.NotInvited,
        errors.RemovedFromRoom,
        errors.NotTheHost,
        errors.RoomNotScheduled,
        errors.TooManyLiveRooms,
    ),
)
async def start_room(
    room_id: str,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    settings: AppSettings,
    now: Now,
) -> RoomOut:
    """Start your scheduled room now (hosts): it goes live and the people who RSVP'd are told."""
    return await service.start_room(session, bus, settings, room_id, member, now)


_RSVP_ERRORS = error_responses(
    NotAuthenticated, NotActive, errors.RoomNotFound, errors.NotInvited, errors.RemovedFromRoom,
    errors.RoomNotScheduled,
)


@router.post("/{room_id}/rsvp", response_model=RsvpOut, responses=_RSVP_ERRORS)
async def rsvp(room_id: str, member: CurrentMember, session: DbSession, now: Now) -> RsvpOut:
    """Say you will come to a scheduled room: a reminder before it, a notice when it starts."""
    return await service.set_rsvp(session, room_id, member, True, now)


@router.delete("/{room_id}/rsvp", response_model=RsvpOut, responses=_RSVP_ERRORS)
async def cancel_rsvp(room_id: str, member: CurrentMember, session: DbSession, now: Now) -> RsvpOut:
    """Take your RSVP back."""
    return await service.set_rsvp(session, room_id, member, False, now)


@router.get(
    "/{room_id}/calendar.ics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/calendar": {}},
            "description": "An RFC 5545 calendar with the room.",
        },
        **error_responses(
            NotAuthenticated,
            NotActive,
            errors.RoomNotFound,
            errors.NotInvited,
            errors.RemovedFromRoom,
        ),
    },
)
async def room_calendar(
    room_id: str, request: Request, member: CurrentMember, session: DbSession, now: Now
) -> Response:
    """The room as a calendar file (.ics) to add to your calendar."""
    body = await service.calendar(session, room_id, member, str(request.base_url), now)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="mitalk-room.ics"'},
    )


@router.get(
    "/{room_id}",
    response_model=RoomOut,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.RoomNotFound,
        errors.NotInvited,
        errors.RemovedFromRoom,
    ),
)
async def get_room(room_id: str, member: CurrentMember, session: DbSession) -> RoomOut:
    """A room with the people in it and its event sequence number."""
    return await service.get_room(session, room_id, member)


@router.get(
    "/{room_id}/events",
    response_model=EventPage,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.RoomNotFound,
        errors.NotInvited,
        errors.RemovedFromRoom,
        errors.ResyncRequired,
    ),
)
async def room_events(
    room_id: str,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    after: Annotated[int, Query(ge=0, description="The last sequence number you applied.")] = 0,
) -> EventPage:
    """The events after ``after`` (the WebSocket's resume, over HTTP), or ``resync_required``."""
    seq, events = await service.events_after(session, bus, room_id, member, after)
    return EventPage.model_validate({"seq": seq, "events": [e.model_dump() for e in events]})


@router.post(
    "/{room_id}/join",
    response_model=RoomOut,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited,
        *_ROOM, errors.NotInvited, errors.RemovedFromRoom, errors.RoomFull
    ),
)
async def join_room(
    room_id: str,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    settings: AppSettings,
    now: Now,
) -> RoomOut:
    """Enter as a listener (or with the role you held); joining twice changes nothing."""
    return await service.join(session, bus, settings, room_id, member, now)


@router.post(
    "/{room_id}/leave",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_IN_ROOM),
)
async def leave_room(
    room_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Leave; if you were the last moderator, the longest on stage takes over (or it ends)."""
    await service.leave(session, bus, room_id, member, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{room_id}/hand",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_IN_ROOM, errors.AlreadyOnStage, NameRequired),
)
async def raise_hand(
    room_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Raise your hand to ask to speak (listeners)."""
    return await service.set_hand(session, bus, room_id, member, True, now)


@router.delete(
    "/{room_id}/hand",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_IN_ROOM),
)
async def lower_hand(
    room_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Lower your hand."""
    return await service.set_hand(session, bus, room_id, member, False, now)


@router.post(
    "/{room_id}/speakers",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_MODERATED, errors.StageFull),
)
async def bring_on_stage(
    room_id: str,
    body: UserRef,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    settings: AppSettings,
    now: Now,
) -> ParticipantOut:
    """Bring someone in the room on stage (moderators); they start muted."""
    return await service.bring_on_stage(session, bus, settings, room_id, member, body.user_id, now)


@router.delete(
    "/{room_id}/speakers/{user_id}",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited, *_MODERATED, errors.TargetIsModerator, errors.LastModerator
    ),
)
async def move_off_stage(
    room_id: str, user_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Move a speaker back to the audience (moderators), or step down yourself."""
    return await service.move_off_stage(session, bus, room_id, member, user_id, now)


@router.post(
    "/{room_id}/moderators",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_MODERATED, errors.NotOnStage),
)
async def make_moderator(
    room_id: str, body: UserRef, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Make a speaker a moderator (moderators)."""
    return await service.make_moderator(session, bus, room_id, member, body.user_id, now)


@router.post(
    "/{room_id}/mute",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_MODERATED, errors.NotOnStage),
)
async def mute(
    room_id: str, body: UserRef, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Mute someone on stage (moderators), or yourself."""
    return await service.mute(session, bus, room_id, member, body.user_id, now)


@router.post(
    "/{room_id}/unmute",
    response_model=ParticipantOut,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited, *_IN_ROOM, errors.ListenersCannotUnmute, NameRequired
    ),
)
async def unmute_self(
    room_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ParticipantOut:
    """Unmute yourself (speakers and moderators, even after a moderator muted you)."""
    return await service.unmute_self(session, bus, room_id, member, now)


@router.post(
    "/{room_id}/remove",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=_COUNTED,
    responses=error_responses(
        RateLimited,
        *_MODERATED,
        errors.CannotRemoveSelf,
        errors.CannotRemoveModerator,
        errors.CannotRemoveHost,
    ),
)
async def remove(
    room_id: str, body: UserRef, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Remove someone from the room (moderators); they cannot come back."""
    await service.remove(session, bus, room_id, member, body.user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{room_id}/end",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_IN_ROOM, errors.NotAModerator, errors.NotTheHost),
)
async def end_room(
    room_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """End the room for everyone (moderators); cancel a scheduled room (its host)."""
    await service.end(session, bus, room_id, member, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class PingOut(BaseModel):
    """Whether a notice went out now (false: they were pinged into this room already)."""

    sent: bool


@router.post(
    "/{room_id}/ping",
    response_model=PingOut,
    # Not a room action counted per minute: a ping reaches one person, and has its own limit.
    responses=error_responses(
        *_IN_ROOM, errors.NotAModerator, errors.NotAFollower, errors.TooManyPings, NameRequired,
    ),
)
async def ping(
    room_id: str, body: UserRef, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> PingOut:
    """Ask one of your followers into this room: a notice that opens it (once per room and
    person, at most 30 people an hour); in a room that is not open, moderators only."""
    return PingOut(sent=await service.ping(session, bus, room_id, member, body.user_id, now))


@router.post(
    "/{room_id}/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=RoomInviteOut,
    dependencies=_COUNTED,
    responses=error_responses(RateLimited, *_IN_ROOM, errors.NotAModerator, errors.UserNotFound),
)
async def invite(
    room_id: str, body: UserRef, member: CurrentMember, session: DbSession, now: Now
) -> RoomInviteOut:
    """Invite a member into the room (moderators): how social and closed rooms are entered."""
    created = await service.invite(session, room_id, member, body.user_id, now)
    return RoomInviteOut(
        room_id=created.room_id,
        user_id=created.user_id,
        invited_by=created.invited_by,
        created_at=created.created_at,
    )


@router.get(
    "/{room_id}/people",
    response_model=MetListOut,
    responses=error_responses(NotAuthenticated, NotActive, errors.RoomNotFound, errors.NotInvited),
)
async def people_met_in_room(
    room_id: str, member: CurrentMember, session: DbSession, now: Now
) -> MetListOut:
    """Who you were in this room with, listed for 7 days after you were last together."""
    await service.visible_room(session, room_id, member)
    return await network.people_met(session, member, now, room_id)


@router.get(
    "/{room_id}/moderation",
    response_model=ModerationLogOut,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.RoomNotFound,
        errors.NotInvited,
        errors.RemovedFromRoom,
        errors.NotInRoom,
        errors.NotAModerator,
    ),
)
async def moderation_log(
    room_id: str, member: CurrentMember, session: DbSession
) -> ModerationLogOut:
    """The room's moderation log, oldest first (moderators)."""
    entries = await service.moderation_log(session, room_id, member)
    return ModerationLogOut(entries=[ModerationEntryOut.model_validate(e) for e in entries])
