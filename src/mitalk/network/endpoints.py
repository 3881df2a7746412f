"""HTTP routes of profiles."""

from __future__ import annotations

from fastapi import APIRouter

from mitalk.accounts.dependencies import CurrentAccount, CurrentMember
from mitalk.core.deps import DbSession
from mitalk.core.errors import NotActive, NotAuthenticated, NotFound, error_responses
from mitalk.network import service
from mitalk.network.schemas import ProfileOut, ProfileUpdate, PublicUser

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
