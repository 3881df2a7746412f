"""Every SQL query about profiles."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.network.models import Profile


async def profile_of(session: AsyncSession, user_id: str) -> Profile | None:
    """A person's profile, if they wrote one."""
    return await session.get(Profile, user_id)


async def ensure_profile(session: AsyncSession, user_id: str) -> Profile:
    """A person's profile, created empty if missing."""
    profile = await session.get(Profile, user_id)
    if profile is None:
        profile = Profile(user_id=user_id, skills=[], links=[], open_to=[])
        session.add(profile)
        await session.flush()
    return profile
