"""Typed dependency aliases shared by every context's endpoints.

Every dependency is ``async def``, even the trivial ones: FastAPI runs plain ``def``
dependencies in a thread pool, and those hops were most of a claim's cost under load.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.core.database import unit_of_work
from mitalk.core.ratelimit import RateLimiter
from mitalk.core.settings import Settings


async def get_settings_dep(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent."""
    async with unit_of_work(request.app.state.db) as session:
        yield session


async def get_now(request: Request) -> dt.datetime:
    """The current time (the app's clock, so tests can move it)."""
    now: dt.datetime = request.app.state.clock()
    return now


async def get_rate_limiter(request: Request) -> RateLimiter:
    """The app's rate limiter."""
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


async def client_address(request: Request) -> str:
    """The client's network address (put the app behind a proxy with --proxy-headers)."""
    return request.client.host if request.client else "unknown"


AppSettings = Annotated[Settings, Depends(get_settings_dep)]
# scope="function": the session's exit (commit or rollback) runs before the response is sent,
# so a client never sees a 2xx for work that then failed to commit.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
Now = Annotated[dt.datetime, Depends(get_now)]
Limiter = Annotated[RateLimiter, Depends(get_rate_limiter)]
ClientAddress = Annotated[str, Depends(client_address)]
