"""Every SQL query about accounts, codes and sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import AuthSession, LoginCode, User
from mitalk.core.database import Database


async def user_by_phone(session: AsyncSession, phone: str) -> User | None:
    """The account of a number, if it has one."""
    return await session.scalar(select(User).where(User.phone == phone))


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    """The account with this id, if any."""
    return await session.get(User, user_id)


async def add_user(session: AsyncSession, phone: str, status: str) -> User:
    """Create an account."""
    user = User(phone=phone, status=status, invites_left=0)
    session.add(user)
    await session.flush()
    return user


async def login_code(session: AsyncSession, phone: str) -> LoginCode | None:
    """The live code of a number, if one was sent."""
    return await session.get(LoginCode, phone)


async def store_login_code(
    session: AsyncSession, phone: str, code_hash: str, sent_at: dt.datetime, expires_at: dt.datetime
) -> None:
    """Replace a number's code with a fresh one (fresh attempts too)."""
    await session.execute(delete(LoginCode).where(LoginCode.phone == phone))
    session.add(LoginCode(phone=phone, code_hash=code_hash, attempts=0, sent_at=sent_at, expires_at=expires_at))
    await session.flush()


async def use_code_attempt(session: AsyncSession, phone: str, max_attempts: int) -> LoginCode | None:
    """Spend one attempt of a number's code atomically; None if no code or none left.

    The attempt is taken before the code is compared, so parallel guesses cannot exceed the cap.
    """
    result = await session.execute(
        update(LoginCode)
        .where(LoginCode.phone == phone, LoginCode.attempts < max_attempts)
        .values(attempts=LoginCode.attempts + 1)
        .returning(LoginCode.code_hash, LoginCode.attempts, LoginCode.expires_at)
    )
    row = result.one_or_none()
    if row is None:
        return None
    return LoginCode(phone=phone, code_hash=row[0], attempts=row[1], expires_at=row[2])


async def delete_login_code(session: AsyncSession, phone: str) -> None:
    """Forget a number's code (used, or replaced)."""
    await session.execute(delete(LoginCode).where(LoginCode.phone == phone))


async def add_auth_session(
    session: AsyncSession, user_id: str, token_hash: str, expires_at: dt.datetime
) -> None:
    """Record a signed-in device."""
    session.add(AuthSession(user_id=user_id, token_hash=token_hash, expires_at=expires_at))
    await session.flush()


async def user_by_token_hash(session: AsyncSession, token_hash: str, now: dt.datetime) -> User | None:
    """The account behind a live session token."""
    return await session.scalar(
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(AuthSession.token_hash == token_hash, AuthSession.expires_at > now)
    )


async def account_by_token_hash(session: AsyncSession, token_hash: str, now: dt.datetime) -> tuple[str, str] | None:
    """(id, status) of the account behind a live token: one light query for hot paths."""
    row = (
        await session.execute(
            select(User.id, User.status)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(AuthSession.token_hash == token_hash, AuthSession.expires_at > now)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def account_by_token_hash_inline(db: Database, token_hash: str, now: dt.datetime) -> tuple[str, str] | None:
    """The same look-up on SQLite, inline (see ``Database.inline_read``)."""
    row = db.inline_read(
        "SELECT users.id, users.status FROM users JOIN sessions ON sessions.user_id = users.id "
        "WHERE sessions.token_hash = :token_hash AND sessions.expires_at > :now",
        {"token_hash": token_hash, "now": now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")},
    )
    return None if row is None else (str(row[0]), str(row[1]))


async def delete_auth_session(session: AsyncSession, token_hash: str) -> None:
    """Revoke one session token."""
    await session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash))
