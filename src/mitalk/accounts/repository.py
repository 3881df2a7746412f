"""Every SQL query about accounts, codes and sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import AuthSession, LoginCode, User
from mitalk.core.database import Database


async def user_by_phone(
    session: AsyncSession, phone: str, for_update: bool = False
) -> User | None:
    """The account of a number, if it has one (``for_update``: locked until the commit)."""
    query = select(User).where(User.phone == phone)
    return await session.scalar(query.with_for_update() if for_update else query)


async def user_by_id(
    session: AsyncSession, user_id: str, for_update: bool = False
) -> User | None:
    """The account with this id, if any (``for_update``: locked until the commit)."""
    return await session.get(User, user_id, with_for_update=for_update)


async def add_user(session: AsyncSession, phone: str, status: str) -> User:
    """Create an account."""
    user = User(phone=phone, status=status, invites_left=0)
    session.add(user)
    await session.flush()
    return user


async def newest_code(session: AsyncSession, phone: str) -> LoginCode | None:
    """The number's most recently sent code, if any."""
    return await session.scalar(
        select(LoginCode)
        .where(LoginCode.phone == phone)
        .order_by(LoginCode.sent_at.desc(), LoginCode.id.desc())
        .limit(1)
    )


async def code_by_ticket(session: AsyncSession, phone: str, ticket_hash: str) -> LoginCode | None:
    """The number's code that was sent for the request holding this ticket."""
    return await session.scalar(
        select(LoginCode).where(LoginCode.phone == phone, LoginCode.ticket_hash == ticket_hash)
    )


async def add_login_code(
    session: AsyncSession,
    phone: str,
    code_hash: str,
    ticket_hash: str,
    sent_at: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    """Keep a freshly sent code (and forget the number's expired ones)."""
    await session.execute(
        delete(LoginCode).where(LoginCode.phone == phone, LoginCode.expires_at <= sent_at)
    )
    session.add(
        LoginCode(
            phone=phone,
            code_hash=code_hash,
            ticket_hash=ticket_hash,
            attempts=0,
            stranger_attempts=0,
            sent_at=sent_at,
            expires_at=expires_at,
        )
    )
    await session.flush()


async def use_code_attempt(
    session: AsyncSession, code_id: str, holder: bool, max_attempts: int
) -> int | None:
    """Spend one try of a code atomically, from the ticket holder's or the strangers' tries;
    the tries spent so far, or None if none were left.

    The try is taken before the code is compared, so parallel guesses cannot exceed the cap.
    """
    column = LoginCode.attempts if holder else LoginCode.stranger_attempts
    result = await session.execute(
        update(LoginCode)
        .where(LoginCode.id == code_id, column < max_attempts)
        .values({column: column + 1})
        .returning(column)
    )
    row = result.one_or_none()
    return None if row is None else int(row[0])


async def use_up_code(session: AsyncSession, code_id: str, max_attempts: int) -> None:
    """Leave a code no tries at all (the number's guesses for the day are spent)."""
    await session.execute(
        update(LoginCode)
        .where(LoginCode.id == code_id)
        .values(attempts=max_attempts, stranger_attempts=max_attempts)
    )


async def delete_codes_of(session: AsyncSession, phone: str) -> None:
    """Forget every code of a number (one was used)."""
    await session.execute(delete(LoginCode).where(LoginCode.phone == phone))


async def add_auth_session(
    session: AsyncSession,
    user_id: str,
    token_hash: str,
    expires_at: dt.datetime,
    user_agent: str | None = None,
    created_at: dt.datetime | None = None,
) -> AuthSession:
    """Record a signed-in device."""
    row = AuthSession(
        user_id=user_id, token_hash=token_hash, expires_at=expires_at, user_agent=user_agent
    )
    if created_at is not None:
        row.created_at = created_at
    session.add(row)
    await session.flush()
    return row


def not_suspended(now: dt.datetime) -> ColumnElement[bool]:
    """Accounts no suspension holds at ``now`` (suspending ends every session too: this closes
    the race with a sign-in finishing at the same moment)."""
    return or_(
        User.suspended_at.is_(None),
        and_(User.suspended_until.is_not(None), User.suspended_until <= now),
    )


async def session_by_token_hash(
    session: AsyncSession, token_hash: str, now: dt.datetime
) -> tuple[User, AuthSession] | None:
    """The account and the live session of a token."""
    row = (
        await session.execute(
            select(User, AuthSession)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.token_hash == token_hash,
                AuthSession.expires_at > now,
                not_suspended(now),
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def live_sessions_of(
    session: AsyncSession, user_id: str, now: dt.datetime
) -> list[AuthSession]:
    """An account's live sessions, newest first."""
    result = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.expires_at > now)
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
    )
    return list(result)


async def session_is_live(session: AsyncSession, session_id: str, now: dt.datetime) -> bool:
    """Whether a session still exists and has not expired (and its account is not suspended)."""
    found = await session.scalar(
        select(AuthSession.id)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == session_id, AuthSession.expires_at > now, not_suspended(now))
    )
    return found is not None


async def live_session_ids(
    session: AsyncSession, session_ids: list[str], now: dt.datetime
) -> set[str]:
    """Which of these sessions still exist and have not expired (their accounts not suspended:
    the sockets' sweep closes the others)."""
    found = await session.scalars(
        select(AuthSession.id)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.id.in_(session_ids), AuthSession.expires_at > now, not_suspended(now)
        )
    )
    return set(found)


async def delete_sessions_of(
    session: AsyncSession, user_id: str, session_ids: list[str] | None = None
) -> list[str]:
    """End an account's sessions (these, or every one); the ids of those that existed."""
    query = delete(AuthSession).where(AuthSession.user_id == user_id)
    if session_ids is not None:
        query = query.where(AuthSession.id.in_(session_ids))
    result = await session.execute(query.returning(AuthSession.id))
    return [row[0] for row in result]


async def account_by_token_hash(
    session: AsyncSession, token_hash: str, now: dt.datetime
) -> tuple[str, str, dt.datetime] | None:
    """(id, status, created_at) of the account behind a live token: one light query."""
    row = (
        await session.execute(
            select(User.id, User.status, User.created_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .where(
                AuthSession.token_hash == token_hash,
                AuthSession.expires_at > now,
                not_suspended(now),
            )
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1], row[2])


def account_by_token_hash_inline(
    db: Database, token_hash: str, now: dt.datetime
) -> tuple[str, str, dt.datetime] | None:
    """The same look-up on SQLite, inline (see ``Database.inline_read``)."""
    row = db.inline_read(
        "SELECT users.id, users.status, users.created_at FROM users "
        "JOIN sessions ON sessions.user_id = users.id "
        "WHERE sessions.token_hash = :token_hash AND sessions.expires_at > :now "
        "AND (users.suspended_at IS NULL "
        "OR (users.suspended_until IS NOT NULL AND users.suspended_until <= :now))",
        {
            "token_hash": token_hash,
            "now": now.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" "),
        },
    )
    if row is None:
        return None
    created = dt.datetime.fromisoformat(str(row[2])).replace(tzinfo=dt.UTC)  # stored naive UTC
    return str(row[0]), str(row[1]), created


async def delete_auth_session(session: AsyncSession, token_hash: str) -> tuple[str, str] | None:
    """Revoke one session token; (account id, session id) if there was one."""
    result = await session.execute(
        delete(AuthSession)
        .where(AuthSession.token_hash == token_hash)
        .returning(AuthSession.user_id, AuthSession.id)
    )
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])
