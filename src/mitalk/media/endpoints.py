"""Signaling: connect your audio to a room (speak on stage, or listen), through Mi Talk only.

A moderator or speaker posts an SDP offer and gets the answer; a listener asks to listen, gets
the stage's offer and posts its answer. Every call checks that you are in the room with the
right role; what you send never reaches the media server except as an SDP it answers, so only
the server decides who is heard and who is muted. See docs/media.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from mitalk.accounts.dependencies import CurrentMember
from mitalk.core.deps import DbSession
from mitalk.core.errors import NotActive, NotAuthenticated, error_responses
from mitalk.media import repository as repo
from mitalk.media.coordinator import (
    ListenersCannotSpeak,
    MediaCoordinator,
    MediaRefused,
    MediaUnavailable,
    NoOfferToAnswer,
    check_place,
)
from mitalk.media.schemas import (
    AudienceOfferOut,
    ListenerAnswer,
    SessionDescription,
    SpeakerOffer,
    StageAnswerOut,
)
from mitalk.rooms import service as rooms

router = APIRouter(prefix="/rooms/{room_id}/media", tags=["media"])

_IN_ROOM = (
    NotAuthenticated,
    NotActive,
    rooms.RoomNotFound,
    rooms.RoomNotStarted,
    rooms.RoomEnded,
    rooms.NotInRoom,
    rooms.RemovedFromRoom,
    MediaUnavailable,
)


def _media(request: Request) -> MediaCoordinator:
    media: MediaCoordinator | None = getattr(request.app.state, "media", None)
    if media is None:
        raise MediaUnavailable("This node serves no media (MITALK_MEDIA=off).")
    return media


@router.post(
    "/offer",
    response_model=StageAnswerOut,
    responses=error_responses(*_IN_ROOM, ListenersCannotSpeak, MediaRefused),
)
async def speak(
    room_id: str, body: SpeakerOffer, member: CurrentMember, session: DbSession, request: Request
) -> StageAnswerOut:
    """Connect your audio on stage (moderators and speakers): your offer, the server's answer.

    Posting again replaces your connection (e.g. after ``room.media_reconnect``).
    """
    check_place(await repo.place_of(session, room_id, member.id), on_stage=True)
    await session.commit()  # no transaction (SQLite: the write lock) held while Janus works
    answer, muted = await _media(request).speak(room_id, member.id, body.model_dump())
    return StageAnswerOut(answer=SessionDescription.model_validate(answer), muted=muted)


@router.post(
    "/listen",
    response_model=AudienceOfferOut,
    responses=error_responses(*_IN_ROOM, MediaRefused),
)
async def listen(
    room_id: str, member: CurrentMember, session: DbSession, request: Request
) -> AudienceOfferOut:
    """Listen to the stage (receive-only): get its offer, then post your answer."""
    check_place(await repo.place_of(session, room_id, member.id), on_stage=False)
    await session.commit()
    offer = await _media(request).listen(room_id, member.id)
    return AudienceOfferOut(offer=SessionDescription.model_validate(offer))


@router.post(
    "/answer",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_IN_ROOM, NoOfferToAnswer, MediaRefused),
)
async def answer(
    room_id: str, body: ListenerAnswer, member: CurrentMember, session: DbSession, request: Request
) -> Response:
    """Answer the stage's offer from ``listen``; the audio starts."""
    check_place(await repo.place_of(session, room_id, member.id), on_stage=False)
    await session.commit()
    await _media(request).answer(room_id, member.id, body.model_dump())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def hang_up(
    room_id: str, member: CurrentMember, session: DbSession, request: Request
) -> Response:
    """Drop your audio connection in this room (nothing happens if there is none)."""
    media: MediaCoordinator | None = getattr(request.app.state, "media", None)
    if media is not None:
        await session.commit()
        await media.hang_up(room_id, member.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
