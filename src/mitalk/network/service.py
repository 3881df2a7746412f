"""The rules of profiles."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.models import User
from mitalk.core.errors import NotFound
from mitalk.network import repository as repo
import datetime as dt

from mitalk.network.schemas import (
    NotificationListOut,
    NotificationOut,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
)


async def profile_of(session: AsyncSession, user: User) -> ProfileOut:
    """A person's profile (empty fields if they wrote none)."""
    profile = await repo.profile_of(session, user.id)
    return ProfileOut.model_validate(profile) if profile else ProfileOut()


async def update_profile(session: AsyncSession, user: User, changes: ProfileUpdate) -> ProfileOut:
    """Apply the fields given; duplicates in tag lists are dropped, order kept."""
    profile = await repo.ensure_profile(session, user.id)
    data = changes.model_dump(exclude_unset=True, mode="json")
    for field in ("skills", "links", "open_to"):
        if data.get(field) is not None:
            data[field] = list(dict.fromkeys(data[field]))
    for field, value in data.items():
        if value is not None:
            setattr(profile, field, value)
    await session.flush()
    return ProfileOut.model_validate(profile)


async def public_user(session: AsyncSession, user_id: str) -> PublicUser:
    """Another member's public face; waitlisted accounts are not shown."""
    user = await accounts_repo.user_by_id(session, user_id)
    if user is None or user.status != "active":
        raise NotFound("No such person.")
    return PublicUser(id=user.id, profile=await profile_of(session, user))


async def notifications_of(session: AsyncSession, user: User, limit: int = 50) -> NotificationListOut:
    """A person's newest notices, newest first, with the unread count."""
    notices = await repo.notices_of(session, user.id, limit)
    return NotificationListOut(
        unread=await repo.unread_count(session, user.id),
        notifications=[
            NotificationOut(id=n.id, kind=n.kind, body=n.body, created_at=n.created_at, read=n.read_at is not None)
            for n in notices
        ],
    )


async def mark_read(session: AsyncSession, user: User, up_to: int, now: dt.datetime) -> None:
    """Mark a person's notices up to ``up_to`` read."""
    await repo.mark_read(session, user.id, up_to, now)
