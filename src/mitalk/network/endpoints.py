"""HTTP routes of profiles."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from mitalk.accounts.dependencies import CurrentAccount, CurrentMember
from mitalk.core.deps import DbSession, Now
from mitalk.core.errors import NotActive, NotAuthenticated, NotFound, error_responses
from mitalk.network import service
from mitalk.network.schemas import (
    MarkReadRequest,
    NotificationListOut,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
)

router = APIRouter(tags=["network"])


@router.patch(
    "/me/profile",
    response_model=ProfileOut,
    responses=error_responses(NotAuthenticated),
)
async def update_my_profile(changes: ProfileUpdate, account: CurrentAccount, session: DbSession) -> ProfileOut:
    """Edit your profile (waitlisted accounts may too)."""
    return await service.update_profile(session, account, changes)


@router.get(
    "/users/{user_id}",
    response_model=PublicUser,
    responses=error_responses(NotAuthenticated, NotActive, NotFound),
)
async def get_user(user_id: str, _: CurrentMember, session: DbSession) -> PublicUser:
    """Another member's public profile (never a phone number)."""
    return await service.public_user(session, user_id)


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
