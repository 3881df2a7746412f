"""Who is calling: the signed-in account, and whether it is an active member.

A session reaches the API in one of two ways. Programs send ``Authorization: Bearer <token>``.
The web client holds the same kind of session in an HttpOnly cookie (``mitalk_session``) that
scripts cannot read; because a browser attaches cookies to requests other sites make, every
state-changing request authenticated by the cookie must also carry ``X-CSRF-Token`` with the
value of the readable ``mitalk_csrf`` cookie, a keyed hash of the session that no other site
can know or forge. A bearer header, when present, wins.

Served over https (``MITALK_PUBLIC_URL`` https, an https request, or ``MITALK_COOKIE_SECURE=
always``) the two cookies are named with the ``__Host-`` prefix (``__Host-mitalk_session``,
``__Host-mitalk_csrf``): browsers keep such a cookie only if it is Secure, for path ``/`` and
for this host alone, so neither a sibling subdomain nor a plain-http page can plant or
overwrite one. Browsers refuse ``__Host-`` without Secure, so plain http (the embedded
default on a laptop or a LAN) keeps the bare names; each side reads only the names it sets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import service
from mitalk.accounts.models import User
from mitalk.accounts.service import Admission, Authenticated
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import CsrfFailed, NotActive
from mitalk.core.security import csrf_token_for, tokens_match
from mitalk.core.settings import Settings

SESSION_COOKIE = "mitalk_session"
CSRF_COOKIE = "mitalk_csrf"
HOST_PREFIX = "__Host-"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="The token from POST /api/v1/auth/verify.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The web client's session from POST /api/v1/auth/session; state-changing "
    f"requests also need the {CSRF_HEADER} header (the {CSRF_COOKIE} cookie's value). Over "
    f"https both are named with the {HOST_PREFIX} prefix ({HOST_PREFIX}{SESSION_COOKIE}).",
)


def cookies_secure(settings: Settings, scheme: str) -> bool:
    """Whether the web session's cookies are Secure (and so ``__Host-`` named) here."""
    if settings.cookie_secure != "auto":
        return settings.cookie_secure == "always"
    return settings.https or scheme in ("https", "wss")


def cookie_names(secure: bool) -> tuple[str, str]:
    """The names of the session cookie and the CSRF cookie (``__Host-`` when Secure)."""
    if secure:
        return HOST_PREFIX + SESSION_COOKIE, HOST_PREFIX + CSRF_COOKIE
    return SESSION_COOKIE, CSRF_COOKIE


async def bearer_token(
    request: Request,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    _documented: Annotated[str | None, Depends(session_cookie)],
) -> str | None:
    """The session token of the request (bearer header, else the session cookie), if any."""
    if credentials:
        return credentials.credentials
    return cookie_token(request, settings)


def request_token(request: Request, settings: Settings) -> str | None:
    """``bearer_token`` without the dependency machinery, for the hottest route (claims): the
    same bearer header, else the session cookie with its CSRF check."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return cookie_token(request, settings)


def cookie_token(request: Request, settings: Settings) -> str | None:
    """The web session cookie's token (CSRF-checked on state-changing requests), if any."""
    name, _ = cookie_names(cookies_secure(settings, request.url.scheme))
    cookie = request.cookies.get(name)
    if not cookie:
        return None
    if request.method not in SAFE_METHODS:
        expected = csrf_token_for(settings.resolved_secret_key, cookie)
        if not tokens_match(expected, request.headers.get(CSRF_HEADER, "")):
            raise CsrfFailed()
    return cookie


BearerToken = Annotated[str | None, Depends(bearer_token)]


async def get_admission(request: Request) -> Admission:
    """The access rules signing in asks (``mitalk.access.service.ADMISSION``, set by the app)."""
    admission: Admission = request.app.state.admission
    return admission


AdmissionRules = Annotated[Admission, Depends(get_admission)]


async def current_session(
    session: DbSession,
    settings: AppSettings,
    admission: AdmissionRules,
    token: BearerToken,
    now: Now,
) -> Authenticated:
    """The signed-in account and the session of this request."""
    return await service.authenticate_session(session, settings, admission, token, now)


CurrentSession = Annotated[Authenticated, Depends(current_session)]


async def current_account(signed_in: CurrentSession) -> User:
    """Any signed-in account, member or waitlisted."""
    return signed_in.user


async def current_member(account: Annotated[User, Depends(current_account)]) -> User:
    """A signed-in active member; waitlisted accounts get ``403 not_active``."""
    if account.status != "active":
        raise NotActive()
    return account


CurrentAccount = Annotated[User, Depends(current_account)]
CurrentMember = Annotated[User, Depends(current_member)]


@dataclass(frozen=True)
class Caller:
    """Who is calling, as checked without a transaction: their token and account id."""

    token: str
    account_id: str


async def caller_checked_without_transaction(
    request: Request, token: BearerToken, now: Now
) -> Caller:
    """The request's session, checked without opening a transaction.

    For routes that read a large body (an upload) before their work: a caller without a valid
    session is refused before a byte of the body is read, and no write lock (SQLite) or pooled
    connection (PostgreSQL) is held while the body arrives. The route then authenticates again
    inside its transaction with ``account_in``, which also applies the access rules.
    """
    account = await service.authenticate_readonly(request.app.state.db, token, now)
    assert token is not None  # authenticate_readonly refuses a missing token
    return Caller(token=token, account_id=account.id)


CheckedCaller = Annotated[Caller, Depends(caller_checked_without_transaction)]


async def account_in(
    session: AsyncSession, settings: Settings, admission: Admission, token: str, now: dt.datetime
) -> User:
    """The account behind ``token``, read in ``session`` (see ``CheckedCaller``)."""
    return await service.authenticate(session, settings, admission, token, now)


def session_token(websocket: WebSocket, token: str | None) -> str | None:
    """The socket's session token: bearer header, ``?token=``, else the web session cookie.

    Browsers send cookies with cross-site WebSocket handshakes too (no CSRF header is possible
    there), so the cookie counts only when the page's ``Origin`` is this server itself.
    """
    header = websocket.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if token:
        return token
    settings: Settings = websocket.app.state.settings
    name, _ = cookie_names(cookies_secure(settings, websocket.url.scheme))
    cookie = websocket.cookies.get(name)
    if cookie and same_origin(websocket):
        return cookie
    return None


def same_origin(websocket: WebSocket) -> bool:
    """Whether the handshake's ``Origin`` is this server's own scheme, host and port."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host:
        return False
    scheme, _, rest = origin.partition("://")
    expected = {"ws": "http", "wss": "https"}.get(websocket.url.scheme, websocket.url.scheme)
    return scheme.lower() == expected and rest.rstrip("/").lower() == host.lower()
