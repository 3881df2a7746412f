"""Every SQL query about profiles and notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.network.models import Notification, Profile


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


async def add_notices(
    session: AsyncSession, user_ids: Sequence[str], kind: str, key_prefix: str, body: str,
    now: dt.datetime, sms: bool,
) -> None:
    """Write one notice per person in bulk (the SMS outbox too); ``key_prefix:user`` is unique."""
    if not user_ids:
        return
    await session.execute(
        insert(Notification),
        [
            {
                "user_id": uid, "kind": kind, "dedupe_key": f"{key_prefix}:{uid}", "body": body,
                "created_at": now, "sms_status": "pending" if sms else "none",
                "sms_attempts": 0, "sms_next_at": now if sms else None,
            }
            for uid in user_ids
        ],
    )


async def notices_of(session: AsyncSession, user_id: str, limit: int) -> Sequence[Notification]:
    """A person's newest notices."""
    return (
        await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
        )
    ).all()


async def unread_count(session: AsyncSession, user_id: str) -> int:
    """How many of a person's notices are unread."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


async def mark_read(session: AsyncSession, user_id: str, up_to_id: int, now: dt.datetime) -> None:
    """Mark a person's notices up to ``up_to_id`` read."""
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.id <= up_to_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )


async def lease_due_sms(
    session: AsyncSession, now: dt.datetime, lease_until: dt.datetime, limit: int, lock: bool
) -> Sequence[tuple[int, str, str, str]]:
    """Take up to ``limit`` text messages that are due (or whose lease ran out) for sending.

    Returns (id, phone, body, dedupe_key) and marks them ``sending`` until ``lease_until``.
    """
    from mitalk.accounts.models import User

    due = (
        select(Notification.id)
        .where(Notification.sms_status.in_(("pending", "sending")), Notification.sms_next_at <= now)
        .order_by(Notification.sms_next_at, Notification.id)
        .limit(limit)
    )
    if lock:
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(sms_status="sending", sms_next_at=lease_until, sms_attempts=Notification.sms_attempts + 1)
    )
    rows = await session.execute(
        select(Notification.id, User.phone, Notification.body, Notification.dedupe_key)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    )
    return [(int(i), p, b, k) for i, p, b, k in rows.all()]


async def mark_sms_sent(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> None:
    """Record text messages as handed to the provider."""
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(Notification).where(Notification.id.in_(ids[start : start + 1000])).values(
                sms_status="sent", sms_sent_at=now, sms_next_at=None
            )
        )


async def mark_sms_failed(
    session: AsyncSession, notice_id: int, retry_at: dt.datetime | None
) -> None:
    """Put a message back for a retry at ``retry_at``, or give up on it (None)."""
    await session.execute(
        update(Notification).where(Notification.id == notice_id).values(
            sms_status="pending" if retry_at else "failed", sms_next_at=retry_at
        )
    )


async def sms_backlog(session: AsyncSession) -> dict[str, int]:
    """How many text messages are in each state."""
    rows = await session.execute(
        select(Notification.sms_status, func.count()).group_by(Notification.sms_status)
    )
    return {status: int(n) for status, n in rows.all()}


async def attempts_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """How many times each message was tried."""
    rows = await session.execute(
        select(Notification.id, Notification.sms_attempts).where(Notification.id.in_(ids))
    )
    return {int(i): int(n) for i, n in rows.all()}
