"""HTTP routes of the network: profiles, avatars, people, follows, connections, blocks, cards
and contacts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from mitalk.access import errors as access_errors
from mitalk.accounts.dependencies import (
    AdmissionRules,
    CheckedCaller,
    CurrentAccount,
    CurrentMember,
    account_in,
)
from mitalk.core.deps import AppSettings, DbSession, Limiter, Now
from mitalk.core.errors import (
    AppError,
    NotActive,
    NotAuthenticated,
    RateLimited,
    error_responses,
)
from mitalk.network import avatars, errors, service
from mitalk.network.schemas import (
    AVATAR_UPLOAD_MAX_BYTES,
    AVATAR_UPLOADS_PER_HOUR,
    INDUSTRIES,
    CardDetailOut,
    CardListOut,
    CardOffer,
    CardOut,
    CardSharing,
    ConnectionListOut,
    ConnectionOut,
    ContactsStoredOut,
    ContactsUpload,
    Findable,
    LetInOut,
    MetListOut,
    OpenTo,
    PeopleOut,
    PeoplePage,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
    UserRef,
    VocabularyItem,
    VocabularyOut,
    WaitingContactsOut,
)
from mitalk.realtime.dependencies import Bus

router = APIRouter(tags=["network"])


@router.patch(
    "/me/profile",
    response_model=ProfileOut,
    responses=error_responses(NotAuthenticated),
)
async def update_my_profile(
    changes: ProfileUpdate, account: CurrentAccount, session: DbSession
) -> ProfileOut:
    """Edit your profile (waitlisted accounts may too)."""
    return await service.update_profile(session, account, changes)


# --- vocabulary, avatars, people ----------------------------------------------------------------

AVATAR_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    "Cross-Origin-Resource-Policy": "same-site",
}


@router.get("/network/vocabulary", response_model=VocabularyOut)
async def vocabulary() -> VocabularyOut:
    """The fixed lists a profile picks from (industries, open-to flags) and the field limits."""
    return VocabularyOut(
        industries=[VocabularyItem(id=k, label=v) for k, v in INDUSTRIES.items()],
        open_to=[
            VocabularyItem(id=o.value, label=o.value.replace("_", " ").capitalize()) for o in OpenTo
        ],
    )


async def _read_upload(request: Request) -> bytes:
    """The ``file`` part of a multipart upload, refused as soon as it grows past the limit."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise errors.UnsupportedImage("Upload the image as multipart/form-data with a 'file' part.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > AVATAR_UPLOAD_MAX_BYTES:
        raise errors.AvatarTooLarge()

    async def capped() -> AsyncGenerator[bytes, None]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > AVATAR_UPLOAD_MAX_BYTES:
                raise errors.AvatarTooLarge()
            yield chunk

    try:
        form = await MultiPartParser(request.headers, capped(), max_files=1, max_fields=5).parse()
    except MultiPartException as exc:
        raise AppError(
            f"The upload is not valid multipart data: {exc.message}", code="invalid_upload"
        ) from exc
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
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "JPEG, PNG or WebP, at most 5 MB and 4096x4096 "
                            "pixels.",
                        }
                    },
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
        NotAuthenticated,
        errors.AvatarTooLarge,
        errors.AvatarTooManyPixels,
        errors.UnsupportedImage,
        errors.BrokenImage,
        errors.AvatarsBusy,
        RateLimited,
    ),
)
async def put_my_avatar(
    request: Request,
    caller: CheckedCaller,
    session: DbSession,
    settings: AppSettings,
    admission: AdmissionRules,
    limiter: Limiter,
    now: Now,
) -> ProfileOut:
    """Upload your avatar: it is checked, stripped of metadata and re-encoded as a 256x256 WebP."""
    # Decoding costs CPU: a few uploads an hour per account, counted before the body is read.
    await limiter.hit("avatar-upload", caller.account_id, AVATAR_UPLOADS_PER_HOUR, 3600)
    # The body is read and decoded before the transaction's first statement: a slow upload or
    # a costly picture never holds the database's write lock or a pooled connection.
    data = await _read_upload(request)
    encoded, content_hash = await avatars.DECODER.run(avatars.normalize_avatar, data)
    account = await account_in(session, settings, admission, caller.token, now)
    return await service.set_avatar(session, account, encoded, content_hash, now)


@router.delete(
    "/me/avatar",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated),
)
async def delete_my_avatar(account: CurrentAccount, session: DbSession) -> Response:
    """Remove your avatar."""
    await service.remove_avatar(session, account)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/avatars/{user_id}/{content_hash}.webp",
    response_class=Response,
    responses={
        200: {"content": {"image/webp": {}}, "description": "The image."},
        **error_responses(errors.AvatarNotFound),
    },
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
    responses=error_responses(NotAuthenticated, NotActive, errors.PersonNotFound),
)
async def get_user(user_id: str, member: CurrentMember, session: DbSession) -> PublicUser:
    """Another member's public profile (never a phone number) and where you stand with them."""
    return await service.public_user(session, member, user_id)


@router.get(
    "/users/{user_id}/followers",
    response_model=PeoplePage,
    responses=error_responses(NotAuthenticated, NotActive, errors.PersonNotFound),
)
async def followers_of(
    user_id: str,
    member: CurrentMember,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> PeoplePage:
    """Who follows a member, newest first (people blocked either way with you left out)."""
    return await service.follow_list(session, member, user_id, True, limit, offset)


@router.get(
    "/users/{user_id}/following",
    response_model=PeoplePage,
    responses=error_responses(NotAuthenticated, NotActive, errors.PersonNotFound),
)
async def following_of(
    user_id: str,
    member: CurrentMember,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> PeoplePage:
    """Whom a member follows, newest first (people blocked either way with you left out)."""
    return await service.follow_list(session, member, user_id, False, limit, offset)


@router.post(
    "/users/{user_id}/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.PersonNotFound,
        errors.CannotTargetSelf,
        errors.FollowingTooMany,
    ),
)
async def follow_user(
    user_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Follow a member (one-way; following twice changes nothing)."""
    await service.follow(session, bus, member, user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}/follow",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def unfollow_user(
    user_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Stop following someone."""
    await service.unfollow(session, bus, member, user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/users/{user_id}/block",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.PersonNotFound,
        errors.CannotTargetSelf,
        errors.BlockingTooMany,
    ),
)
async def block_user(
    user_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Block someone: you disappear from each other's profiles, rooms, lists and search."""
    await service.block(session, bus, member, user_id, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/users/{user_id}/block",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def unblock_user(user_id: str, member: CurrentMember, session: DbSession) -> Response:
    """Lift your block of someone."""
    await service.unblock(session, member, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/blocks", response_model=PeopleOut, responses=error_responses(NotAuthenticated, NotActive)
)
async def my_blocks(member: CurrentMember, session: DbSession) -> PeopleOut:
    """The people you blocked, newest first."""
    return PeopleOut(people=await service.blocked_people(session, member))


# --- connections ------------------------------------------------------------------------------


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    response_model=ConnectionOut,
    responses={
        200: {
            "model": ConnectionOut,
            "description": "They had asked you already: their request is now accepted.",
        },
        **error_responses(
            NotAuthenticated,
            NotActive,
            errors.PersonNotFound,
            errors.CannotTargetSelf,
            errors.AlreadyConnected,
            errors.AlreadyRequested,
            errors.TooManyRequests,
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


@router.get(
    "/connections",
    response_model=ConnectionListOut,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def list_connections(member: CurrentMember, session: DbSession) -> ConnectionListOut:
    """Your connections (your contacts) and pending requests, both ways."""
    return await service.connections_of(session, member)


@router.post(
    "/connections/{connection_id}/accept",
    response_model=ConnectionOut,
    responses=error_responses(
        NotAuthenticated, NotActive, errors.ConnectionNotFound, errors.NotPending
    ),
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
    responses=error_responses(
        NotAuthenticated, NotActive, errors.ConnectionNotFound, errors.NotPending
    ),
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
    responses=error_responses(NotAuthenticated, NotActive, errors.ConnectionNotFound),
)
async def remove_connection(
    connection_id: str, member: CurrentMember, session: DbSession
) -> Response:
    """Withdraw a request you sent, or remove a connection."""
    await service.remove_connection(session, member, connection_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- people you met, contact cards ------------------------------------------------------------


@router.get(
    "/me/met", response_model=MetListOut, responses=error_responses(NotAuthenticated, NotActive)
)
async def people_met(member: CurrentMember, session: DbSession, now: Now) -> MetListOut:
    """Everyone you were in a room with during the last 7 days, most recent first."""
    return await service.people_met(session, member, now)


@router.post(
    "/cards",
    status_code=status.HTTP_201_CREATED,
    response_model=CardOut,
    responses=error_responses(
        NotAuthenticated, NotActive, errors.PersonNotFound, errors.CannotTargetSelf, errors.NotMet,
        errors.AlreadyOffered, errors.TooManyCards, errors.NameRequired,
    ),
)
async def offer_card(
    body: CardOffer, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> CardOut:
    """Offer your card to someone you were in a room with (within 7 days)."""
    return await service.offer_card(session, bus, member, body.user_id, body.room_id, now)


@router.get(
    "/cards", response_model=CardListOut, responses=error_responses(NotAuthenticated, NotActive)
)
async def list_cards(member: CurrentMember, session: DbSession, now: Now) -> CardListOut:
    """Cards offered to you that wait for an answer, and the cards you offered."""
    return await service.cards_of(session, member, now)


@router.get(
    "/me/card", response_model=CardSharing, responses=error_responses(NotAuthenticated, NotActive)
)
async def get_card_sharing(member: CurrentMember, session: DbSession) -> CardSharing:
    """What your contact card carries besides your public profile."""
    return await service.card_sharing(session, member)


@router.put(
    "/me/card", response_model=CardSharing, responses=error_responses(NotAuthenticated, NotActive)
)
async def put_card_sharing(
    body: CardSharing, member: CurrentMember, session: DbSession
) -> CardSharing:
    """Choose what your card carries: an email, your profile's links, your phone number (only
    when ``share_phone`` is true)."""
    return await service.set_card_sharing(session, member, body)


@router.get(
    "/cards/{card_id}",
    response_model=CardDetailOut,
    responses=error_responses(NotAuthenticated, NotActive, errors.CardNotFound),
)
async def get_card(card_id: str, member: CurrentMember, session: DbSession) -> CardDetailOut:
    """One card with what it carries, for its owner and for the person it was offered to."""
    return await service.card_detail(session, member, card_id)


@router.get(
    "/cards/{card_id}/vcard",
    response_class=Response,
    responses={
        200: {"content": {"text/vcard": {}}, "description": "The card as a vCard 3.0."},
        **error_responses(NotAuthenticated, NotActive, errors.CardNotFound),
    },
)
async def get_card_vcard(card_id: str, member: CurrentMember, session: DbSession) -> Response:
    """The card as a vCard file, for a phone's contacts (with the owner's photo, as a JPEG)."""
    card = await service.card_detail(session, member, card_id)
    avatar = await service.card_owner_avatar(session, card_id)
    photo = None
    if avatar is not None:
        # On the avatar threads, within their limits; when they are full the card comes
        # without the photo rather than not at all.
        with contextlib.suppress(errors.AvatarsBusy):
            photo = await avatars.DECODER.run(avatars.vcard_photo, avatar)
    return Response(
        service.vcard(card.contact, photo),
        media_type="text/vcard; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="mitalk-card-{card.id}.vcf"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/cards/{card_id}/accept",
    response_model=ConnectionOut,
    responses=error_responses(NotAuthenticated, NotActive, errors.CardNotFound, errors.NotPending),
)
async def accept_card(
    card_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> ConnectionOut:
    """Accept a card: you two become connections."""
    out = await service.answer_card(session, bus, member, card_id, True, now)
    assert out is not None
    return out


@router.post(
    "/cards/{card_id}/decline",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, errors.CardNotFound, errors.NotPending),
)
async def decline_card(
    card_id: str, member: CurrentMember, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Decline a card."""
    await service.answer_card(session, bus, member, card_id, False, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- contacts: letting waitlisted people in -----------------------------------------------------


@router.put(
    "/me/contacts",
    response_model=ContactsStoredOut,
    responses=error_responses(NotAuthenticated, NotActive, RateLimited),
)
async def upload_contacts(
    body: ContactsUpload, member: CurrentMember, session: DbSession, settings: AppSettings, now: Now
) -> ContactsStoredOut:
    """Replace your contact list: SHA-256 hex of each E.164 number, kept keyed.

    At most 1,000 numbers, 5 uploads a day, 3,000 numbers new to your list in 30 days (429
    ``rate_limited`` with ``Retry-After`` past either; the earlier list stays).
    """
    count = await service.store_contacts(session, settings, member, body.hashes, now)
    return ContactsStoredOut(count=count)


@router.delete(
    "/me/contacts",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def delete_contacts(member: CurrentMember, session: DbSession) -> Response:
    """Forget your uploaded contact list."""
    await service.forget_contacts(session, member)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me/contacts/findable", response_model=Findable, responses=error_responses(NotAuthenticated)
)
async def findable(account: CurrentAccount, session: DbSession) -> Findable:
    """Whether members who have your number may find you on the waiting list to let you in."""
    return Findable(findable=await service.findable(session, account))


@router.put(
    "/me/contacts/findable", response_model=Findable, responses=error_responses(NotAuthenticated)
)
async def set_findable(
    body: Findable, account: CurrentAccount, session: DbSession, settings: AppSettings
) -> Findable:
    """Let members who have your number find you on the waiting list (off unless you turn it
    on): they see your name and picture, never your number, and may let you in."""
    wanted = await service.set_findable(
        session, settings.resolved_secret_key, settings.is_sqlite, account, body.findable
    )
    return Findable(findable=wanted)


@router.get(
    "/me/contacts/waiting",
    response_model=WaitingContactsOut,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def waiting_contacts(
    member: CurrentMember, session: DbSession, settings: AppSettings
) -> WaitingContactsOut:
    """Waitlisted people you may let in: in your contacts, or invited by your connections."""
    return await service.waiting_contacts(
        session, settings.resolved_secret_key, settings.is_sqlite, member
    )


@router.post(
    "/waitlist/{user_id}/let-in",
    response_model=LetInOut,
    responses=error_responses(
        NotAuthenticated,
        NotActive,
        errors.NotYourContact,
        access_errors.NoInvitesLeft,
        access_errors.LettingInClosed,
        access_errors.AlreadyMember,
    ),
)
async def let_in(
    user_id: str, member: CurrentMember, session: DbSession, settings: AppSettings, now: Now
) -> LetInOut:
    """Let a waitlisted contact in (spends one of your invites); they get the "you're in" notice."""
    await service.let_in(session, settings, member, user_id, now)
    return LetInOut(user_id=user_id, status="active", invites_left=member.invites_left)
