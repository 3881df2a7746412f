"""How the API shows your account: ``AccountOut``, with your place in line and your profile."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.access.models import StaffPhone
from mitalk.accounts.models import User
from mitalk.me.schemas import AccountOut, WaitlistOut
from mitalk.network import service as network
from mitalk.network.models import Profile
from mitalk.network.schemas import ProfileOut


async def account_out(
    session: AsyncSession,
    user: User,
    staff: bool | None = None,
    line: access.LineSnapshot | None = None,
) -> AccountOut:
    """The account as the API shows it to its owner (``staff``: already known, not read;
    ``line``: a node's snapshot of the line to work out the place from)."""
    if line is not None and user.status == "waitlisted":
        position = await line.place_of(session, user.id)
    else:
        position = await access.position_of(session, user)
    return AccountOut(
        id=user.id,
        phone=user.phone,
        status="active" if user.status == "active" else "waitlisted",
        is_staff=await access.is_staff(session, user) if staff is None else staff,
        invites_left=user.invites_left if user.status == "active" else 0,
        waitlist=WaitlistOut(position=position.position, total=position.total)
        if position
        else None,
        profile=await network.profile_of(session, user),
        language=user.language if user.language in ("en", "de", "zh-Hans", "zh-Hant") else None,
    )


async def accounts_out_of_line(
    session: AsyncSession, user_ids: Sequence[str]
) -> dict[str, AccountOut]:
    """``account_out`` of many people who no longer wait in line (let in), in three reads for
    up to 1,000 of them rather than three each: what a node's account sockets send when a drop
    or a claim window lets thousands of their waitlisters in at once. Deleted accounts are
    missing from the answer."""
    shown: dict[str, AccountOut] = {}
    for start in range(0, len(user_ids), 1000):
        chunk = list(user_ids[start : start + 1000])
        users = list(await session.scalars(select(User).where(User.id.in_(chunk))))
        phones = [u.phone for u in users]
        staff = set(
            await session.scalars(select(StaffPhone.phone).where(StaffPhone.phone.in_(phones)))
        )
        profiles = {
            p.user_id: p
            for p in await session.scalars(select(Profile).where(Profile.user_id.in_(chunk)))
        }
        for user in users:
            profile = profiles.get(user.id)
            shown[user.id] = AccountOut(
                id=user.id,
                phone=user.phone,
                status="active" if user.status == "active" else "waitlisted",
                is_staff=user.phone in staff,
                invites_left=user.invites_left if user.status == "active" else 0,
                waitlist=None,
                profile=ProfileOut.model_validate(profile) if profile else ProfileOut(),
                language=user.language
                if user.language in ("en", "de", "zh-Hans", "zh-Hant")
                else None,
            )
    return shown
