"""The rules of signing in: codes, attempts, cool-downs, sessions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.accounts import repository as repo
from mitalk.accounts.models import User
from mitalk.accounts.sms import SmsSender
from mitalk.core.database import Database, after_commit
from mitalk.core.errors import AppError, NotAuthenticated, RateLimited
from mitalk.core.security import codes_match, hash_code, hash_token, new_code, new_token
from mitalk.core.settings import Settings


class InvalidCode(AppError):
    status, code = 400, "invalid_code"
    message = "That code is wrong or has expired. Check it, or ask for a new one."
    commit_changes = True  # the attempt it used stays used


class TooManyAttempts(AppError):
    status, code = 429, "too_many_attempts"
    message = "Too many wrong codes. Ask for a new code."


@dataclass(frozen=True)
class CodeSent:
    """A code is on its way: for how long it works and when another may be asked for."""

    phone: str
    expires_in: int
    resend_in: int


@dataclass(frozen=True)
class SignedIn:
    """A new session: the bearer token (shown once) and its account."""

    token: str
    user: User


def code_message(code: str) -> str:
    """The text message carrying a sign-in code (the code as 6 digits)."""
    return f"Your Mi Talk code is {code}. It expires in 5 minutes. Never share it."


async def send_code(
    session: AsyncSession, settings: Settings, sms: SmsSender, phone: str, now: dt.datetime
) -> CodeSent:
    """Send a fresh code to a number, known or not (the answer is the same either way)."""
    current = await repo.login_code(session, phone)
    if current is not None:
        ready_at = current.sent_at + dt.timedelta(seconds=settings.code_resend_seconds)
        if ready_at > now:
            wait = int((ready_at - now).total_seconds()) + 1
            raise RateLimited(wait, f"A code was just sent. You can ask for another in {wait} seconds.")
    code = new_code()
    await repo.store_login_code(
        session,
        phone,
        hash_code(settings.resolved_secret_key, phone, code),
        sent_at=now,
        expires_at=now + dt.timedelta(seconds=settings.code_ttl_seconds),
    )
    body = code_message(code)

    async def deliver() -> None:
        await sms.send(phone, body)

    after_commit(session, deliver)
    return CodeSent(phone, settings.code_ttl_seconds, settings.code_resend_seconds)


async def verify_code(
    session: AsyncSession, settings: Settings, phone: str, code: str, now: dt.datetime
) -> SignedIn:
    """Check a code; on success sign in, creating the account (member or waitlisted) if new."""
    attempt = await repo.use_code_attempt(session, phone, settings.code_max_attempts)
    if attempt is None:
        existing = await repo.login_code(session, phone)
        if existing is not None and existing.expires_at > now:
            raise TooManyAttempts()
        raise InvalidCode()
    if attempt.expires_at <= now:
        await repo.delete_login_code(session, phone)
        raise InvalidCode("That code has expired. Ask for a new one.")
    candidate = hash_code(settings.resolved_secret_key, phone, code)
    if not codes_match(attempt.code_hash, candidate):
        left = settings.code_max_attempts - attempt.attempts
        if left <= 0:
            raise InvalidCode("That code is wrong, and it was the last try. Ask for a new code.")
        raise InvalidCode(f"That code is wrong. {left} {'try' if left == 1 else 'tries'} left.")
    await repo.delete_login_code(session, phone)
    user = await repo.user_by_phone(session, phone)
    if user is None:
        user = await repo.add_user(session, phone, status="waitlisted")
        await access.place_new_account(session, settings, user, now)
    else:
        await access.refresh_admission(session, settings, user, now)
    token = new_token()
    await repo.add_auth_session(
        session, user.id, hash_token(token), now + dt.timedelta(days=settings.session_ttl_days)
    )
    return SignedIn(token, user)


async def authenticate(
    session: AsyncSession, settings: Settings, token: str | None, now: dt.datetime
) -> User:
    """The account behind a bearer token, admitted if the rules now let it in."""
    if not token:
        raise NotAuthenticated()
    user = await repo.user_by_token_hash(session, hash_token(token), now)
    if user is None:
        raise NotAuthenticated("This session has ended or the token is wrong. Sign in again.")
    return await access.refresh_admission(session, settings, user, now)


async def authenticate_readonly(db: Database, token: str | None, now: dt.datetime) -> User:
    """The account behind a bearer token, read without writing (hot paths such as claims)."""
    if not token:
        raise NotAuthenticated()
    if db.is_sqlite:
        found = repo.account_by_token_hash_inline(db, hash_token(token), now)
    else:
        async with db.read_sessions() as session:
            found = await repo.account_by_token_hash(session, hash_token(token), now)
    if found is None:
        raise NotAuthenticated("This session has ended or the token is wrong. Sign in again.")
    # A detached account with what the hot path needs (id, status); not loaded through the ORM.
    return User(id=found[0], status=found[1])


async def sign_out(session: AsyncSession, token: str) -> None:
    """End the session of this token."""
    await repo.delete_auth_session(session, hash_token(token))
