"""The rules of signing in: codes, attempts, cool-downs, sessions.

Whether an account may enter (member now, or a place in the waitlist) is the access context's
rule, which sits above this one: signing in and authenticating ask it through ``Admission``,
which the app builds from ``mitalk.access.service`` (``app.state.admission``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import repository as repo
from mitalk.accounts.errors import AccountSuspended, InvalidCode, TooManyAttempts
from mitalk.accounts.events import AccountSuspended as SuspendedEvent
from mitalk.accounts.models import USER_AGENT_LENGTH, AuthSession, User
from mitalk.accounts.phones import country_of
from mitalk.accounts.sms import SmsSender
from mitalk.core.database import Database, after_commit
from mitalk.core.errors import NotAuthenticated, RateLimited
from mitalk.core.messages import render
from mitalk.core.ratelimit import Charge, RateLimiter, network_of
from mitalk.core.security import codes_match, hash_code, hash_token, new_code, new_token
from mitalk.core.settings import Settings
from mitalk.realtime.bus import EventBus, publish_after_commit
from mitalk.realtime.events import user_channel
from mitalk.realtime.sockets import LiveSessions, sessions_ended


@dataclass(frozen=True)
class Admission:
    """The access rules signing in needs, inside its own transaction: ``place`` decides a new
    account's fate, ``refresh`` lets a waitlisted one in if the rules now allow it."""

    place: Callable[[AsyncSession, Settings, User, dt.datetime], Awaitable[None]]
    refresh: Callable[[AsyncSession, Settings, User, dt.datetime], Awaitable[User]]


@dataclass(frozen=True)
class CodeSent:
    """A code is on its way: for how long it works and when another may be asked for, and the
    ticket that binds it to this requester (their own tries, which nobody else can spend)."""

    phone: str
    expires_in: int
    resend_in: int
    ticket: str


@dataclass(frozen=True)
class SignedIn:
    """A new session: the bearer token (shown once) and its account."""

    token: str
    user: User


def code_message(code: str, language: str | None = None, minutes: int = 5) -> str:
    """The text message carrying a sign-in code (the code as 6 digits), in ``language``."""
    return render("sms.code", language, code=code, minutes=minutes)


def text_charges(settings: Settings, phone: str, address: str) -> list[Charge]:
    """The budgets one sign-in text spends: the number's (hour, day), the client network's,
    the number's block of 1,000, its country's and the deployment's."""
    hour, day = 3600, 86_400
    return [
        Charge("sms-phone", phone, settings.codes_per_phone_per_hour, hour),
        Charge("sms-phone-day", phone, settings.codes_per_phone_per_day, day),
        Charge("sms-addr", network_of(address), settings.codes_per_address_per_hour, hour),
        Charge("sms-prefix", phone[:-3], settings.sms_per_prefix_per_hour, hour),
        Charge("sms-country", country_of(phone), settings.sms_per_country_per_hour, hour),
        Charge("sms-all", "all", settings.sms_per_hour, hour),
    ]


async def send_code(
    session: AsyncSession,
    settings: Settings,
    sms: SmsSender,
    limiter: RateLimiter,
    phone: str,
    address: str,
    now: dt.datetime,
    language: str | None = None,
) -> CodeSent:
    """Send a fresh code to a number, known or not (the answer is the same either way), in the
    account's language if it has one, else ``language`` (the browser's, at this request).

    The text budgets are spent last, after every other check, so only a text that goes out
    counts: a refused request never uses up a number's allowance.
    """
    current = await repo.newest_code(session, phone)
    if current is not None:
        ready_at = current.sent_at + dt.timedelta(seconds=settings.code_resend_seconds)
        if ready_at > now:
            wait = int((ready_at - now).total_seconds()) + 1
            raise RateLimited(
                wait, f"A code was just sent. You can ask for another in {wait} seconds."
            )
    await limiter.take(text_charges(settings, phone, address))
    code, ticket = new_code(), new_token()
    await repo.add_login_code(
        session,
        phone,
        hash_code(settings.resolved_secret_key, phone, code),
        hash_token(ticket),
        sent_at=now,
        expires_at=now + dt.timedelta(seconds=settings.code_ttl_seconds),
    )
    known = await repo.user_by_phone(session, phone)
    minutes = max(1, settings.code_ttl_seconds // 60)
    body = code_message(code, (known.language if known else None) or language, minutes)

    async def deliver() -> None:
        await sms.send(phone, body)

    after_commit(session, deliver)
    return CodeSent(phone, settings.code_ttl_seconds, settings.code_resend_seconds, ticket)


async def verify_code(
    session: AsyncSession,
    settings: Settings,
    admission: Admission,
    limiter: RateLimiter,
    phone: str,
    code: str,
    now: dt.datetime,
    ticket: str | None = None,
    user_agent: str | None = None,
    language: str | None = None,
) -> SignedIn:
    """Check a code; on success sign in, creating the account (member or waitlisted) if new.

    With the ticket of the request that sent it, the guess is checked against that code and
    spends its holder's tries; without (or with a ticket of no live code) against the number's
    newest code, spending the tries of those who do not hold its ticket. Wrong guesses also
    count against the number's guesses of the day: past that cap a wrong guess ends its code,
    so each new code gets one try (a brute-force bound that never locks the owner out).
    """
    target = None
    if ticket:
        target = await repo.code_by_ticket(session, phone, hash_token(ticket))
    holder = target is not None
    if target is None:
        target = await repo.newest_code(session, phone)
    if target is None:
        raise InvalidCode()
    if target.expires_at <= now:
        raise InvalidCode("That code has expired. Ask for a new one.")
    cap = settings.code_max_attempts
    spent = await repo.use_code_attempt(session, target.id, holder, cap)
    if spent is None:
        raise TooManyAttempts()
    candidate = hash_code(settings.resolved_secret_key, phone, code)
    if not codes_match(target.code_hash, candidate):
        day_cap = settings.code_guesses_per_phone_per_day
        try:
            await limiter.hit("guesses-phone-day", phone, day_cap, 86_400)
        except RateLimited:
            await repo.use_up_code(session, target.id, cap)
            raise InvalidCode(
                "That code is wrong. This number had too many wrong codes today: each new code "
                "now takes one try. Ask for a new code."
            ) from None
        left = cap - spent
        if left <= 0:
            raise InvalidCode("That code is wrong, and it was the last try. Ask for a new code.")
        raise InvalidCode(f"That code is wrong. {left} {'try' if left == 1 else 'tries'} left.")
    await repo.delete_codes_of(session, phone)
    # Locked: a suspension of this account (which locks it too) either commits first and is
    # seen here, or waits for this sign-in's session and ends it with the others.
    user = await repo.user_by_phone(session, phone, for_update=True)
    if user is not None and is_suspended(user, now):
        # Told only to whoever holds the number's code: nobody else learns of it.
        raise AccountSuspended(suspension_message(user), until=user.suspended_until)
    if user is not None and user.suspended_at is not None:
        lift_suspension(user)  # it ended: back in search and suggestions from this sign-in
    if user is None:
        user = await repo.add_user(session, phone, status="waitlisted")
        await admission.place(session, settings, user, now)
    else:
        await admission.refresh(session, settings, user, now)
    if user.language is None and language is not None:
        user.language = language  # the browser's, until the app says otherwise
    token = new_token()
    await repo.add_auth_session(
        session,
        user.id,
        hash_token(token),
        now + dt.timedelta(days=settings.session_ttl_days),
        user_agent=(user_agent or "")[:USER_AGENT_LENGTH] or None,
        created_at=now,
    )
    return SignedIn(token, user)


@dataclass(frozen=True)
class Authenticated:
    """A signed-in account and the session it came with."""

    user: User
    session_id: str
    expires_at: dt.datetime


async def authenticate_session(
    session: AsyncSession,
    settings: Settings,
    admission: Admission,
    token: str | None,
    now: dt.datetime,
) -> Authenticated:
    """The account and session behind a bearer token, admitted if the rules now let it in."""
    if not token:
        raise NotAuthenticated()
    found = await repo.session_by_token_hash(session, hash_token(token), now)
    if found is None:
        raise NotAuthenticated("This session has ended or the token is wrong. Sign in again.")
    user, auth = found
    user = await admission.refresh(session, settings, user, now)
    return Authenticated(user, auth.id, auth.expires_at)


async def authenticate(
    session: AsyncSession,
    settings: Settings,
    admission: Admission,
    token: str | None,
    now: dt.datetime,
) -> User:
    """The account behind a bearer token, admitted if the rules now let it in."""
    return (await authenticate_session(session, settings, admission, token, now)).user


class Claimant(Protocol):
    """What a claim needs of an account: a ``User``, or the ``AccountSeen`` a hot-path read
    returns."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...

    @property
    def created_at(self) -> dt.datetime: ...


@dataclass(frozen=True, slots=True)
class AccountSeen:
    """An account as a read outside any transaction saw it (id, status, when it was made): not
    an ORM object, which costs its instrumentation on every claim of a rush."""

    id: str
    status: str
    created_at: dt.datetime


async def authenticate_readonly(
    db: Database, token: str | None, now: dt.datetime
) -> AccountSeen:
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
    return AccountSeen(id=found[0], status=found[1], created_at=found[2])


async def sign_out(session: AsyncSession, bus: EventBus, token: str) -> None:
    """End the session of this token; its open sockets close once this commits."""
    ended = await repo.delete_auth_session(session, hash_token(token))
    if ended is not None:
        user_id, session_id = ended
        publish_after_commit(session, bus, sessions_ended(user_id, [session_id]))


async def live_sessions(session: AsyncSession, user_id: str, now: dt.datetime) -> list[AuthSession]:
    """An account's signed-in devices, newest first."""
    return await repo.live_sessions_of(session, user_id, now)


async def end_sessions(
    session: AsyncSession, bus: EventBus, user_id: str, session_ids: list[str] | None = None
) -> list[str]:
    """End these sessions of an account (None: every one: sign out everywhere, suspension);
    their tokens stop working and, once this commits, their sockets close on every node."""
    ended = await repo.delete_sessions_of(session, user_id, session_ids)
    if ended:
        publish_after_commit(session, bus, sessions_ended(user_id, ended))
    return ended


def session_checker(db: Database, clock: Callable[[], dt.datetime]) -> LiveSessions:
    """How the socket registry asks which sessions still exist (its sweep)."""

    async def live(session_ids: list[str]) -> set[str]:
        async with db.read_sessions() as session:
            return await repo.live_session_ids(session, session_ids, clock())

    return live


async def session_is_live(db: Database, session_id: str, now: dt.datetime) -> bool:
    """Whether a session still exists (a socket's check right after it registered)."""
    async with db.read_sessions() as session:
        return await repo.session_is_live(session, session_id, now)


# --- suspension ------------------------------------------------------------------------------

SUSPENSION_REASON_LENGTH = 200


def is_suspended(user: User, now: dt.datetime) -> bool:
    """Whether staff's suspension of this account holds at ``now``."""
    return user.suspended_at is not None and (
        user.suspended_until is None or user.suspended_until > now
    )


def suspension_message(user: User) -> str | None:
    """What the suspended person is told when they sign in (None: the error's own words, for a
    suspension until lifted; the reason is staff's own, never told)."""
    if user.suspended_until is None:
        return None
    until = user.suspended_until.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"This account is suspended until {until}. "
        "If you think this is a mistake, write to the service."
    )


async def suspend(
    session: AsyncSession,
    bus: EventBus,
    user: User,
    by: str,
    until: dt.datetime | None,
    reason: str,
    now: dt.datetime,
) -> None:
    """Suspend an account: every session ends (its sockets close on every node), sign-in is
    refused until ``until`` (None: until lifted), and once this commits rooms take the person
    out of every room they are in (``account.suspended``; their audio stops)."""
    user.suspended_at, user.suspended_until = now, until
    user.suspended_reason, user.suspended_by = reason[:SUSPENSION_REASON_LENGTH], by
    await session.flush()
    await end_sessions(session, bus, user.id)
    publish_after_commit(
        session, bus, SuspendedEvent(channel=user_channel(user.id), at=now, user_id=user.id)
    )


def lift_suspension(user: User) -> bool:
    """End a suspension early; False if there was none."""
    if user.suspended_at is None:
        return False
    user.suspended_at = user.suspended_until = user.suspended_reason = user.suspended_by = None
    return True
