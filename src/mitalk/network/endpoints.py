"""HTTP routes of the network: profiles, avatars, people, follows, connections, blocks, cards,
contacts and notifications."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from mitalk.access import service as access
from mitalk.accounts.dependencies import CurrentAccount, CurrentMember
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import AppError, NotActive, NotAuthenticated, NotFound, error_responses
from mitalk.network import avatars, service
from mitalk.network.schemas import (
    INDUSTRIES,
    CardListOut,
    CardOffer,
    CardOut,
    ConnectionListOut,
    ConnectionOut,
    ContactsStoredOut,
    ContactsUpload,
    LetInOut,
    MetListOut,
    OpenTo,
    PeopleOut,
    UserRef,
    VocabularyItem,
    VocabularyOut,
    WaitingContactsOut,
    MarkReadRequest,
    NotificationListOut,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
)
from mitalk.realtime.dependencies import Bus
from mitalk.rooms import service as rooms

router = APIRouter(tags=["network"])


@router.patch(
    "/me/profile",
    response_model=ProfileOut,
    responses=error_responses(NotAuthenticated),
)
async def update_my_profile(changes: ProfileUpdate, account: CurrentAccount, session: DbSession) -> ProfileOut:
    """Edit your profile (waitlisted accounts may too)."""
    return await service.update_profile(session, account, changes)


@router.get("/notifications", response_model=NotificationListOut, responses=error_responses(NotAuthenticated))
async def list_notifications(
    account: CurrentAccount, session: DbSession, limit: int = Query(50, ge=1, le=200)
) -> NotificationListOut:
    """Your notices, newest first, with how many are unread (waitlisted accounts too)."""
    return await service.notifications_of(session, account, limit)


@router.post(
    "/notifications/read", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(NotAuthenticated)
)
async def mark_notifications_read(
    body: MarkReadRequest, account: CurrentAccount, session: DbSession, now: Now
) -> Response:
    """Mark your notices up to and including ``up_to`` read."""
    await service.mark_read(session, account, body.up_to, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- vocabulary, avatars, people ----------------------------------------------------------------

AVATAR_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-site",
}
# A multipart envelope adds a few hundred bytes around the file; anything past this is refused
# while it streams in, before it reaches memory or disk.
_UPLOAD_LIMIT = avatars.MAX_BYTES + 16 * 1024


@router.get("/network/vocabulary", response_model=VocabularyOut)
async def vocabulary() -> VocabularyOut:
    """The fixed lists a profile picks from (industries, open-to flags) and the field limits."""
    return VocabularyOut(
        industries=[VocabularyItem(id=k, label=v) for k, v in INDUSTRIES.items()],
        open_to=[VocabularyItem(id=o.value, label=o.value.replace("_", " ").capitalize()) for o in OpenTo],
    )


async def _read_upload(request: Request) -> bytes:
    """The ``file`` part of a multipart upload, refused as soon as it grows past the limit."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise avatars.UnsupportedImage("Upload the image as multipart/form-data with a 'file' part.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > _UPLOAD_LIMIT:
        raise avatars.AvatarTooLarge()

    async def capped() -> AsyncGenerator[bytes, None]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > _UPLOAD_LIMIT:
                raise avatars.AvatarTooLarge()
            yield chunk

    try:
        form = await MultiPartParser(request.headers, capped(), max_files=1, max_fields=5).parse()
    except MultiPartException as exc:
        raise AppError(f"The upload is not valid multipart data: {exc.message}", code="invalid_upload") from exc
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise AppError("Send the image in a multipart part named 'file'.", code="file_missing")
        return await upload.read()
    finally:
        await form.close()


_AVATAR_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP, at most 5 MB and 25 megapixels."}},
                }
            }
        },
    }
}


@router.put(
    "/me/avatar",
    response_model=ProfileOut,
    openapi_extra=_AVATAR_BODY,
    responses=error_responses(
        NotAuthenticated, avatars.AvatarTooLarge, avatars.UnsupportedImage, avatars.BrokenImage
    ),
)
async def put_my_avatar(request: Request, account: CurrentAccount, session: DbSession, now: Now) -> ProfileOut:
    """Upload your avatar: it is checked, stripped of metadata and re-encoded as a 256x256 WebP."""
    data = await _read_upload(request)
    encoded, content_hash = await asyncio.to_thread(avatars.normalize_avatar, data)
    return await service.set_avatar(session, account, encoded, content_hash, now)


@router.delete("/me/avatar", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(NotAuthenticated))
async def delete_my_avatar(account: CurrentAccount, session: DbSession) -> Response:
    """Remove your avatar."""
    await service.remove_avatar(session, account)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/avatars/{user_id}/{content_hash}.webp",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}, "description": "The image."}, **error_responses(service.AvatarNotFound)},
)
async def get_avatar(
    session: DbSession,
    user_id: Annotated[str, Path(max_length=64)],
    content_hash: Annotated[str, Path(max_length=64)],
) -> Response:
    """An avatar image by its content hash (public, like a link to an image; cached for a year)."""
    data = await service.avatar_bytes(session, user_id, content_hash)
    return Response(content=data, media_type=avatars.CONTENT_TYPE, headers=AVATAR_HEADERS)


@router.get(
    "/users/{user_id}",
    response_model=PublicUser,
    responses=error_responses(NotAuthenticated, NotActive, service.PersonNotFound),
)
async def get_user(user_id: str, member: CurrentMember, session: DbSession) -> PublicUser:
    """Another member's public profile (never a phone number) and where you stand with them."""
    return await service.public_user(session, member, user_id)


@router.post(
    "/users/{user_id}/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, service.PersonNotFound, service.CannotTargetSelf, service.FollowingTooMany),
)
async def follow_user(user_id: str, member: CurrentMember, session: DbSession, now: Now) -> Response:
    """Follow a member (one-way; following twice changes nothing)."""
    await service.follow(session, member, user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}/follow", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(NotAuthenticated, NotActive)
)
async def unfollow_user(user_id: str, member: CurrentMember, session: DbSession) -> Response:
    """Stop following someone."""
    await service.unfollow(session, member, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/{user_id}/block",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, service.PersonNotFound, service.CannotTargetSelf, service.BlockingTooMany),
)
async def block_user(user_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now) -> Response:
    """Block someone: you disappear from each other's profiles, rooms, lists and search."""
    await service.block(session, bus, member, user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}/block", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(NotAuthenticated, NotActive)
)
async def unblock_user(user_id: str, member: CurrentMember, session: DbSession) -> Response:
    """Lift your block of someone."""
    await service.unblock(session, member, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/blocks", response_model=PeopleOut, responses=error_responses(NotAuthenticated, NotActive))
async def my_blocks(member: CurrentMember, session: DbSession) -> PeopleOut:
    """The people you blocked, newest first."""
    return PeopleOut(people=await service.blocked_people(session, member))


# --- connections ------------------------------------------------------------------------------


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionOut,
    responses={
        200: {"model": ConnectionOut, "description": "They had asked you already: their request is now accepted."},
        **error_responses(
            NotAuthenticated, NotActive, service.PersonNotFound, service.CannotTargetSelf,
            service.AlreadyConnected, service.AlreadyRequested, service.TooManyRequests,
        ),
    },
)
async def request_connection(
    body: UserRef, response: Response, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ConnectionOut:
    """Ask a member to connect (201); if they asked you already, this accepts theirs (200)."""
    out, created = await service.request_connection(session, bus, member, body.user_id, now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get("/connections", response_model=ConnectionListOut, responses=error_responses(NotAuthenticated, NotActive))
async def list_connections(member: CurrentMember, session: DbSession) -> ConnectionListOut:
    """Your connections (your contacts) and pending requests, both ways."""
    return await service.connections_of(session, member)


@router.post(
    "/connections/{connection_id}/accept",
    response_model=ConnectionOut,
    responses=error_responses(NotAuthenticated, NotActive, service.ConnectionNotFound, service.NotPending),
)
async def accept_connection(
    connection_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ConnectionOut:
    """Accept a request made to you: you are connected."""
    out = await service.answer_connection(session, bus, member, connection_id, True, now)
    assert out is not None
    return out


@router.post(
    "/connections/{connection_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, service.ConnectionNotFound, service.NotPending),
)
async def decline_connection(
    connection_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Decline a request made to you (they are not told; they may ask again)."""
    await service.answer_connection(session, bus, member, connection_id, False, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/connections/{connection_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, service.ConnectionNotFound),
)
async def remove_connection(connection_id: str, member: CurrentMember, session: DbSession) -> Response:
    """Withdraw a request you sent, or remove a connection."""
    await service.remove_connection(session, member, connection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- people you met, contact cards ------------------------------------------------------------


@router.get(
    "/rooms/{room_id}/people",
    response_model=MetListOut,
    responses=error_responses(NotAuthenticated, NotActive, rooms.RoomNotFound, rooms.NotInvited),
)
async def people_met_in_room(room_id: str, member: CurrentMember, session: DbSession, now: Now) -> MetListOut:
    """Who you were in this room with, listed for 7 days after you were last together."""
    await rooms.visible_room(session, room_id, member)
    return await service.people_met(session, member, now, room_id)


@router.get("/me/met", response_model=MetListOut, responses=error_responses(NotAuthenticated, NotActive))
async def people_met(member: CurrentMember, session: DbSession, now: Now) -> MetListOut:
    """Everyone you were in a room with during the last 7 days, most recent first."""
    return await service.people_met(session, member, now)


@router.post(
    "/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=CardOut,
    responses=error_responses(
        NotAuthenticated, NotActive, service.PersonNotFound, service.CannotTargetSelf, service.NotMet,
        service.AlreadyOffered, service.TooManyCards,
    ),
)
async def offer_card(body: CardOffer, member: CurrentMember, session: DbSession, bus: Bus, now: Now) -> CardOut:
    """Offer your card to someone you were in a room with (within 7 days)."""
    return await service.offer_card(session, bus, member, body.user_id, body.room_id, now)


@router.get("/cards", response_model=CardListOut, responses=error_responses(NotAuthenticated, NotActive))
async def list_cards(member: CurrentMember, session: DbSession, now: Now) -> CardListOut:
    """Cards offered to you that wait for an answer, and the cards you offered."""
    return await service.cards_of(session, member, now)


@router.post(
    "/cards/{card_id}/accept",
    response_model=ConnectionOut,
    responses=error_responses(NotAuthenticated, NotActive, service.CardNotFound, service.NotPending),
)
async def accept_card(card_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now) -> ConnectionOut:
    """Accept a card: you two become connections."""
    out = await service.answer_card(session, bus, member, card_id, True, now)
    assert out is not None
    return out


@router.post(
    "/cards/{card_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, service.CardNotFound, service.NotPending),
)
async def decline_card(card_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now) -> Response:
    """Decline a card."""
    await service.answer_card(session, bus, member, card_id, False, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- contacts: letting waitlisted people in -----------------------------------------------------


@router.put(
    "/me/contacts",
    response_model=ContactsStoredOut,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def upload_contacts(
    body: ContactsUpload, member: CurrentMember, session: DbSession, settings: AppSettings
) -> ContactsStoredOut:
    """Replace your contact list: SHA-256 hex of each E.164 number (at most 5,000); stored keyed-hashed."""
    count = await service.store_contacts(session, settings.resolved_secret_key, member, body.hashes)
    return ContactsStoredOut(count=count)


@router.delete("/me/contacts", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(NotAuthenticated, NotActive))
async def delete_contacts(member: CurrentMember, session: DbSession, settings: AppSettings) -> Response:
    """Forget your uploaded contact list."""
    await service.store_contacts(session, settings.resolved_secret_key, member, [])
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/contacts/waiting",
    response_model=WaitingContactsOut,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def waiting_contacts(member: CurrentMember, session: DbSession, settings: AppSettings) -> WaitingContactsOut:
    """Waitlisted people you may let in: in your contacts, or invited by your connections (no numbers shown)."""
    return await service.waiting_contacts(session, settings.resolved_secret_key, settings.is_sqlite, member)


@router.post(
    "/waitlist/{user_id}/let-in",
    response_model=LetInOut,
    responses=error_responses(
        NotAuthenticated, NotActive, service.NotYourContact, access.NoInvitesLeft, access.LettingInClosed,
        access.AlreadyMember,
    ),
)
async def let_in(user_id: str, member: CurrentMember, session: DbSession, settings: AppSettings, now: Now) -> LetInOut:
    """Let a waitlisted contact in; spends one of your invites. They get the usual "you're in" notice."""
    await service.let_in(session, settings, member, user_id, now)
    return LetInOut(user_id=user_id, status="active", invites_left=member.invites_left)
