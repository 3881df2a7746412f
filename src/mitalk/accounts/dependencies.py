"""Who is calling: the signed-in account, and whether it is an active member.

A session reaches the API in one of two ways. Programs send ``Authorization: Bearer <token>``.
The web client holds the same kind of session in an HttpOnly cookie (``mitalk_session``) that
scripts cannot read; because a browser attaches cookies to requests other sites make, every
state-changing request authenticated by the cookie must also carry ``X-CSRF-Token`` with the
value of the readable ``mitalk_csrf`` cookie, a keyed hash of the session that no other site
can know or forge. A bearer header, when present, wins.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from mitalk.accounts import service
from mitalk.accounts.models import User
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import CsrfFailed, NotActive
from mitalk.core.security import csrf_token_for, tokens_match

SESSION_COOKIE = "mitalk_session"
CSRF_COOKIE = "mitalk_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="The token from POST /api/v1/auth/verify.")
session_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description="The web client's session from POST /api/v1/auth/session; state-changing "
    f"requests also need the {CSRF_HEADER} header (the {CSRF_COOKIE} cookie's value).",
)


async def bearer_token(
    request: Request,
    settings: AppSettings,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    cookie: Annotated[str | None, Depends(session_cookie)],
) -> str | None:
    """The session token of the request (bearer header, else the session cookie), if any."""
    if credentials:
        return credentials.credentials
    if not cookie:
        return None
    if request.method not in SAFE_METHODS:
        expected = csrf_token_for(settings.resolved_secret_key, cookie)
        if not tokens_match(expected, request.headers.get(CSRF_HEADER, "")):
            raise CsrfFailed()
    return cookie


BearerToken = Annotated[str | None, Depends(bearer_token)]


async def current_account(session: DbSession, settings: AppSettings, token: BearerToken, now: Now) -> User:
    """Any signed-in account, member or waitlisted."""
    return await service.authenticate(session, settings, token, now)


async def current_member(account: Annotated[User, Depends(current_account)]) -> User:
    """A signed-in active member; waitlisted accounts get ``403 not_active``."""
    if account.status != "active":
        raise NotActive()
    return account


CurrentAccount = Annotated[User, Depends(current_account)]
CurrentMember = Annotated[User, Depends(current_member)]
