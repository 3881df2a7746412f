"""HTTP routes of search: people and rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mitalk.accounts.dependencies import CurrentMember
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import NotActive, NotAuthenticated, error_responses
from mitalk.search import service
from mitalk.search.schemas import PeopleResults, RoomResults, SuggestionsOut

router = APIRouter(prefix="/search", tags=["search"])

Text = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=50, description="At most this many results.")]
Offset = Annotated[int, Query(ge=0, le=1000, description="Skip this many (from next_offset).")]


@router.get(
    "/people", response_model=PeopleResults, responses=error_responses(NotAuthenticated, NotActive)
)
async def search_people(
    member: CurrentMember,
    session: DbSession,
    q: Annotated[
        str | None, Query(max_length=200, description="Words; each matches as a prefix.")
    ] = None,
    skill: Text = None,
    industry: Text = None,
    open_to: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> PeopleResults:
    """Members by name, company, role, skills, industry and what they are open to, best first."""
    return await service.people(session, member, q, skill, industry, open_to, limit, offset)


@router.get(
    "/rooms", response_model=RoomResults, responses=error_responses(NotAuthenticated, NotActive)
)
async def search_rooms(
    member: CurrentMember,
    session: DbSession,
    q: Annotated[
        str | None, Query(max_length=200, description="Words of the title or topics.")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> RoomResults:
    """Live and scheduled rooms you may enter, by title and topics, best match first."""
    return await service.rooms(session, member, q, limit, offset)


@router.get(
    "/suggestions",
    response_model=SuggestionsOut,
    responses=error_responses(NotAuthenticated, NotActive),
)
async def suggestions(
    member: CurrentMember, session: DbSession, settings: AppSettings, now: Now
) -> SuggestionsOut:
    """For onboarding: topics of recent open rooms, and people to follow (your contacts already
    inside, then members whose profiles speak of your topics of interest)."""
    return await service.suggestions(
        session, settings.resolved_secret_key, settings.is_sqlite, member, now
    )
