"""HTTP routes of sign-in and the account (the rules are in ``mitalk.accounts``)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import errors, service
from mitalk.accounts.dependencies import (
    AdmissionRules,
    BearerToken,
    CurrentAccount,
    CurrentSession,
    cookie_names,
    cookies_secure,
)
from mitalk.accounts.errors import InvalidPhone, NotMobile
from mitalk.accounts.phones import normalize_phone, require_textable
from mitalk.core.deps import AppSettings, ClientAddress, DbSession, Limiter, Now
from mitalk.core.errors import CsrfFailed, NotAuthenticated, RateLimited, error_responses
from mitalk.core.messages import best_language
from mitalk.core.ratelimit import RateLimiter, network_of
from mitalk.core.security import csrf_token_for
from mitalk.core.settings import Settings
from mitalk.me.presenters import account_out
from mitalk.me.schemas import (
    AccountOut,
    CodeRequest,
    CodeSentOut,
    LanguageIn,
    SessionOut,
    SessionsOut,
    SignedInOut,
    VerifyRequest,
    WebSessionOut,
)
from mitalk.realtime.dependencies import Bus

router = APIRouter(tags=["accounts"])


@router.post(
    "/auth/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CodeSentOut,
    responses=error_responses(InvalidPhone, NotMobile, RateLimited),
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
    network = network_of(address)
    await limiter.hit("code-addr", network, settings.code_requests_per_address_per_hour, 3600)
    phone = normalize_phone(body.phone, settings.default_region)
    require_textable(phone)
    sent = await service.send_code(
        session, settings, request.app.state.sms, limiter, phone, address, now,
        language=best_language(request.headers.get("accept-language")),
    )
    return CodeSentOut(
        phone=sent.phone, expires_in=sent.expires_in, resend_in=sent.resend_in, ticket=sent.ticket
    )


@router.post(
    "/auth/verify",
    response_model=SignedInOut,
    responses=error_responses(
        InvalidPhone, errors.InvalidCode, errors.TooManyAttempts, RateLimited
    ),
)
async def verify_code(
    body: VerifyRequest,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    admission: AdmissionRules,
    now: Now,
) -> SignedInOut:
    """Exchange a code for a session token; a new number becomes a member or joins the waitlist."""
    signed_in = await _sign_in(
        body, session, settings, admission, limiter, address, now, _device(request),
        best_language(request.headers.get("accept-language")),
    )
    return SignedInOut(token=signed_in.token, account=await account_out(session, signed_in.user))


@router.post(
    "/auth/session",
    response_model=WebSessionOut,
    responses=error_responses(
        InvalidPhone, errors.InvalidCode, errors.TooManyAttempts, RateLimited
    ),
)
async def start_web_session(
    body: VerifyRequest,
    request: Request,
    response: Response,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    admission: AdmissionRules,
    now: Now,
) -> WebSessionOut:
    """The web client's sign-in: like /auth/verify, but the session goes into an HttpOnly cookie.

    The answer sets ``mitalk_session`` (HttpOnly, SameSite=Lax) and ``mitalk_csrf`` (readable by
    the page); state-changing requests made with the cookie must send ``X-CSRF-Token``. Over
    https the cookies are Secure and named ``__Host-mitalk_session`` and ``__Host-mitalk_csrf``.
    """
    signed_in = await _sign_in(
        body, session, settings, admission, limiter, address, now, _device(request),
        best_language(request.headers.get("accept-language")),
    )
    csrf = csrf_token_for(settings.resolved_secret_key, signed_in.token)
    secure = cookies_secure(settings, request.url.scheme)
    session_name, csrf_name = cookie_names(secure)
    max_age = settings.session_ttl_days * 86400
    response.set_cookie(
        session_name,
        signed_in.token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    response.set_cookie(
        csrf_name,
        csrf,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="strict",
    )
    return WebSessionOut(account=await account_out(session, signed_in.user), csrf_token=csrf)


def _device(request: Request) -> str | None:
    """What is signing in, for the sessions list: its User-Agent (cut short by the service)."""
    return request.headers.get("user-agent")


async def _sign_in(
    body: VerifyRequest, session: AsyncSession, settings: Settings, admission: service.Admission,
    limiter: RateLimiter, address: str, now: dt.datetime, device: str | None,
    language: str | None,
) -> service.SignedIn:
    await limiter.hit(
        "verify-addr", network_of(address), settings.verifies_per_address_per_hour, 3600
    )
    phone = normalize_phone(body.phone, settings.default_region)
    return await service.verify_code(
        session,
        settings,
        admission,
        limiter,
        phone,
        body.code.strip(),
        now,
        ticket=body.ticket,
        user_agent=device,
        language=language,
    )


def _clear_cookies(response: Response, request: Request, settings: Settings) -> None:
    """Drop the web session's cookies (a ``__Host-`` one is dropped only if Secure, path /)."""
    secure = cookies_secure(settings, request.url.scheme)
    for name in cookie_names(secure):
        response.delete_cookie(name, path="/", secure=secure)


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, CsrfFailed),
)
async def logout(
    _: CurrentAccount,
    token: BearerToken,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bus: Bus,
) -> Response:
    """End this session: its token stops working, its sockets close (a web session's cookies
    are cleared too)."""
    assert token is not None  # CurrentAccount guarantees it
    await service.sign_out(session, bus, token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_cookies(response, request, settings)
    return response


@router.post(
    "/auth/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, CsrfFailed),
)
async def logout_everywhere(
    signed_in: CurrentSession,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bus: Bus,
) -> Response:
    """Sign out everywhere: every session of the account ends, this one too, and every socket
    they hold closes, on every node."""
    await service.end_sessions(session, bus, signed_in.user.id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    _clear_cookies(response, request, settings)
    return response


@router.get(
    "/me/sessions", response_model=SessionsOut, responses=error_responses(NotAuthenticated)
)
async def my_sessions(signed_in: CurrentSession, session: DbSession, now: Now) -> SessionsOut:
    """Where you are signed in: every live session, newest first, this one marked current."""
    rows = await service.live_sessions(session, signed_in.user.id, now)
    return SessionsOut(
        sessions=[
            SessionOut(
                id=row.id,
                created_at=row.created_at,
                expires_at=row.expires_at,
                device=row.user_agent,
                current=row.id == signed_in.session_id,
            )
            for row in rows
        ]
    )


@router.delete(
    "/me/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, CsrfFailed, errors.SessionNotFound),
)
async def end_my_session(
    session_id: str,
    signed_in: CurrentSession,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    bus: Bus,
) -> Response:
    """Sign one of your sessions out (another device, or this one): its token stops working and
    its sockets close."""
    ended = await service.end_sessions(session, bus, signed_in.user.id, [session_id])
    if not ended:
        raise errors.SessionNotFound()
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if session_id == signed_in.session_id:
        _clear_cookies(response, request, settings)
    return response


@router.put(
    "/me/language", response_model=AccountOut, responses=error_responses(NotAuthenticated)
)
async def set_language(
    body: LanguageIn, account: CurrentAccount, session: DbSession
) -> AccountOut:
    """The language your notices and text messages are written in (the app's choice)."""
    account.language = body.language
    await session.flush()
    return await account_out(session, account)


@router.get("/me", response_model=AccountOut, responses=error_responses(NotAuthenticated))
async def me(account: CurrentAccount, session: DbSession) -> AccountOut:
    """Your account: status, staff flag, invites left, waitlist position, profile."""
    return await account_out(session, account)
