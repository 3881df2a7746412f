"""The rules of search: turn whatever people type into safe terms, and page the answers.

A query is split into words (runs of letters and digits, case-folded): anything else, such as
quotes, ``*``, ``:``, ``-``, ``(``, ``NEAR`` syntax or SQL, only separates words, so no input
can break the full-text syntax of either database. At most ``MAX_TERMS`` words of at most
``MAX_TERM_LENGTH`` characters are used; every word matches as a prefix (``ann`` finds Anna)
and all of them must match. No words and no filters: no results (not an error).
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.rooms.service import room_status
from mitalk.search import repository as repo
from mitalk.search.schemas import PeopleResults, PersonHit, RoomHit, RoomResults

MAX_TERMS = 8
MAX_TERM_LENGTH = 40
_WORD = re.compile(r"[^\W_]+")


def terms_of(text: str | None) -> list[str]:
    """The words of a query, safe for either database's full-text syntax."""
    if not text:
        return []
    words = [w[:MAX_TERM_LENGTH] for w in _WORD.findall(text.casefold())]
    return list(dict.fromkeys(words))[:MAX_TERMS]


def _page(count: int, limit: int, offset: int) -> int | None:
    return offset + limit if count > limit else None


async def people(
    session: AsyncSession,
    viewer: User,
    q: str | None,
    skill: str | None,
    industry: str | None,
    open_to: str | None,
    limit: int,
    offset: int,
) -> PeopleResults:
    """Members matching the words and filters, best first."""
    terms = terms_of(q)
    exact = {k: v.strip() for k, v in (("skill", skill), ("industry", industry), ("open_to", open_to)) if v and v.strip()}
    # Filters also narrow through the full-text index (as column-scoped phrases), then the exact
    # comparison decides: "go" as a skill must not match "Google" in the company name.
    scoped = [(name, terms_of(exact[key])) for key, name in (("skill", "skills"), ("industry", "industry"), ("open_to", "open_to")) if key in exact]
    if not terms and not any(words for _, words in scoped):
        return PeopleResults(people=[], next_offset=None)
    rows = await repo.search_people(session, viewer.id, terms, scoped, exact, limit + 1, offset)
    return PeopleResults(
        people=[
            PersonHit(
                id=p.user_id, name=p.name, headline=p.headline, company=p.company, role=p.role,
                industry=p.industry, skills=list(p.skills or []), open_to=list(p.open_to or []),
            )
            for p in rows[:limit]
        ],
        next_offset=_page(len(rows), limit, offset),
    )


async def rooms(session: AsyncSession, viewer: User, q: str | None, limit: int, offset: int) -> RoomResults:
    """Live and scheduled rooms the viewer may enter matching the words, best first."""
    terms = terms_of(q)
    if not terms:
        return RoomResults(rooms=[], next_offset=None)
    rows = await repo.search_rooms(session, viewer.id, terms, limit + 1, offset)
    return RoomResults(
        rooms=[
            RoomHit(
                id=r.id, title=r.title, topics=list(r.topics), visibility=r.visibility,
                host_id=r.host_id, status=room_status(r), starts_at=r.starts_at, created_at=r.created_at,
            )
            for r in rows[:limit]
        ],
        next_offset=_page(len(rows), limit, offset),
    )
