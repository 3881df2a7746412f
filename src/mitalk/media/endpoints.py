"""Signaling: connect your audio to a room (speak on stage, or listen), through Mi Talk only.

A moderator or speaker posts an SDP offer and gets the answer; a listener asks to listen, gets
the stage's offer and posts its answer. Every call checks that you are in the room with the
right role; what you send never reaches the media server except as an SDP it answers (and the
ICE candidates of your own connection, trickled to it by the server), so only
the server decides who is heard and who is muted. See docs/media.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from mitalk.accounts.dependencies import CurrentMember
from mitalk.core.deps import DbSession
from mitalk.core.errors import NotActive, NotAuthenticated, error_responses
from mitalk.media import repository as repo
from mitalk.media.coordinator import MediaLayer, check_place
from mitalk.media.errors import (
    ListenersCannotSpeak,
    MediaRefused,
    MediaUnavailable,
    NoConnectionToTrickle,
    NoOfferToAnswer,
    TooManyCandidates,
)
from mitalk.media.schemas import (
    AudienceOfferOut,
    CandidatesIn,
    IceServer,
    IceServersOut,
    ListenerAnswer,
    SessionDescription,
    SpeakerOffer,
    StageAnswerOut,
)
from mitalk.rooms import errors as room_errors

router = APIRouter(prefix="/rooms/{room_id}/media", tags=["media"])

_IN_ROOM = (
    NotAuthenticated,
    NotActive,
    room_errors.RoomNotFound,
    room_errors.RoomNotStarted,
    room_errors.RoomEnded,
    room_errors.NotInRoom,
    room_errors.RemovedFromRoom,
    MediaUnavailable,
)


def _media(request: Request) -> MediaLayer:
    media: MediaLayer | None = getattr(request.app.state, "media", None)
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
    media = _media(request)
    answer, muted = await media.speak(room_id, member.id, body.model_dump())
    return StageAnswerOut(
        answer=SessionDescription.model_validate(answer),
        muted=muted,
        ice_servers=await _ice_servers(media, room_id, member.id),
    )


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
    media = _media(request)
    offer = await media.listen(room_id, member.id)
    return AudienceOfferOut(
        offer=SessionDescription.model_validate(offer),
        ice_servers=await _ice_servers(media, room_id, member.id),
    )


@router.get(
    "/ice-servers",
    response_model=IceServersOut,
    responses=error_responses(*_IN_ROOM),
)
async def ice_servers(
    room_id: str, member: CurrentMember, session: DbSession, request: Request, response: Response
) -> IceServersOut:
    """ICE servers (TURN with a credential for minutes) to start your next connection with.

    A speaker needs them before its first offer; ``…/offer`` and ``…/listen`` answers carry
    fresh ones too. Only for people in the room.
    """
    check_place(await repo.place_of(session, room_id, member.id), on_stage=False)
    response.headers["Cache-Control"] = "no-store"  # a credential: never cached on the way
    media: MediaLayer | None = getattr(request.app.state, "media", None)
    if media is None:
        # A node without media hands out no TURN of its own: none to offer is an answer, not
        # an outage (offers and listens on such a node still answer 503 media_unavailable).
        return IceServersOut(ice_servers=[])
    return IceServersOut(ice_servers=await _ice_servers(media, room_id, member.id))


async def _ice_servers(media: MediaLayer, room_id: str, user_id: str) -> list[IceServer]:
    servers = await media.ice_servers(room_id, user_id)
    return [IceServer.model_validate(server) for server in servers]


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


@router.post(
    "/candidates",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(*_IN_ROOM, NoConnectionToTrickle, TooManyCandidates, MediaRefused),
)
async def candidates(
    room_id: str, body: CandidatesIn, member: CurrentMember, session: DbSession, request: Request
) -> Response:
    """Add ICE candidates to your audio connection as they are gathered (trickle ICE).

    Send your offer (``…/offer``) or answer (``…/answer``) with ``"trickle": true`` at once,
    then post each batch of candidates the browser gathers, and ``"completed": true`` at the end.
    Candidates the media server may not send to are dropped and the rest go on (still 204):
    names instead of addresses, loopback, link-local, unspecified, multicast; on an https
    deployment also the server's own addresses (but its TURN relay ports) and private addresses
    outside its own subnets. The same holds for candidates inside an offer or answer.
    """
    check_place(await repo.place_of(session, room_id, member.id), on_stage=False)
    await session.commit()
    await _media(request).trickle(
        room_id,
        member.id,
        [c.model_dump(exclude_none=True) for c in body.candidates],
        completed=body.completed,
    )
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
    media: MediaLayer | None = getattr(request.app.state, "media", None)
    if media is not None:
        await session.commit()
        await media.hang_up(room_id, member.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
