"""HTTP routes of sign-in and the account."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.accounts import service
from mitalk.accounts.dependencies import CSRF_COOKIE, SESSION_COOKIE, BearerToken, CurrentAccount
from mitalk.accounts.models import User
from mitalk.accounts.phones import InvalidPhone, normalize_phone
from mitalk.accounts.schemas import (
    AccountOut,
    CodeRequest,
    CodeSentOut,
    SignedInOut,
    VerifyRequest,
    WaitlistOut,
    WebSessionOut,
)
from mitalk.core.deps import AppSettings, ClientAddress, DbSession, Limiter, Now
from mitalk.core.errors import CsrfFailed, NotAuthenticated, RateLimited, error_responses
from mitalk.core.ratelimit import RateLimiter
from mitalk.core.security import csrf_token_for
from mitalk.core.settings import Settings
from mitalk.network import service as network

router = APIRouter(tags=["accounts"])


async def account_out(session: AsyncSession, user: User) -> AccountOut:
    """The account as the API shows it to its owner."""
    position = await access.position_of(session, user)
    return AccountOut(
        id=user.id,
        phone=user.phone,
        status="active" if user.status == "active" else "waitlisted",
        is_staff=await access.is_staff(session, user),
        invites_left=user.invites_left if user.status == "active" else 0,
        waitlist=WaitlistOut(position=position.position, total=position.total) if position else None,
        profile=await network.profile_of(session, user),
    )


@router.post(
    "/auth/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CodeSentOut,
    responses=error_responses(InvalidPhone, RateLimited),
)
async def request_code(
    body: CodeRequest,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> CodeSentOut:
    """Text a 6-digit sign-in code to a number; the answer never tells whether it is registered."""
    await limiter.hit("code-addr", address, settings.codes_per_address_per_hour, 3600)
    phone = normalize_phone(body.phone, settings.default_region)
    await limiter.hit("code-phone", phone, settings.codes_per_phone_per_hour, 3600)
    sent = await service.send_code(session, settings, request.app.state.sms, phone, now)
    return CodeSentOut(phone=sent.phone, expires_in=sent.expires_in, resend_in=sent.resend_in)


@router.post(
    "/auth/verify",
    response_model=SignedInOut,
    responses=error_responses(InvalidPhone, service.InvalidCode, service.TooManyAttempts, RateLimited),
)
async def verify_code(
    body: VerifyRequest,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> SignedInOut:
    """Exchange a code for a session token; a new number becomes a member or joins the waitlist."""
    signed_in = await _sign_in(body, session, settings, limiter, address, now)
    return SignedInOut(token=signed_in.token, account=await account_out(session, signed_in.user))


@router.post(
    "/auth/session",
    response_model=WebSessionOut,
    responses=error_responses(InvalidPhone, service.InvalidCode, service.TooManyAttempts, RateLimited),
)
async def start_web_session(
    body: VerifyRequest,
    request: Request,
    response: Response,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> WebSessionOut:
    """The web client's sign-in: like /auth/verify, but the session goes into an HttpOnly cookie.

    The answer sets ``mitalk_session`` (HttpOnly, SameSite=Lax) and ``mitalk_csrf`` (readable by
    the page); state-changing requests made with the cookie must send ``X-CSRF-Token``.
    """
    signed_in = await _sign_in(body, session, settings, limiter, address, now)
    csrf = csrf_token_for(settings.resolved_secret_key, signed_in.token)
    secure = settings.cookie_secure == "always" or (
        settings.cookie_secure == "auto" and request.url.scheme == "https"
    )
    max_age = settings.session_ttl_days * 86400
    response.set_cookie(
        SESSION_COOKIE, signed_in.token, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure, httponly=False, samesite="strict")
    return WebSessionOut(account=await account_out(session, signed_in.user), csrf_token=csrf)


async def _sign_in(
    body: VerifyRequest, session: AsyncSession, settings: Settings, limiter: RateLimiter, address: str, now: dt.datetime
) -> service.SignedIn:
    await limiter.hit("verify-addr", address, settings.verifies_per_address_per_hour, 3600)
    phone = normalize_phone(body.phone, settings.default_region)
    return await service.verify_code(session, settings, phone, body.code.strip(), now)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, CsrfFailed),
)
async def logout(_: CurrentAccount, token: BearerToken, session: DbSession) -> Response:
    """End this session: its token stops working (a web session's cookies are cleared too)."""
    assert token is not None  # CurrentAccount guarantees it
    await service.sign_out(session, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/me", response_model=AccountOut, responses=error_responses(NotAuthenticated))
async def me(account: CurrentAccount, session: DbSession) -> AccountOut:
    """Your account: status, staff flag, invites left, waitlist position, profile."""
    return await account_out(session, account)
