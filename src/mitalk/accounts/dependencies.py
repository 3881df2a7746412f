"""Who is calling: the signed-in account, and whether it is an active member."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mitalk.accounts import service
from mitalk.accounts.models import User
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import NotActive

bearer = HTTPBearer(auto_error=False, description="The token from POST /api/v1/auth/verify.")


async def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    """The bearer token of the request, if any."""
    return credentials.credentials if credentials else None


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
