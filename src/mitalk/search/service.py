"""The rules of search: turn whatever people type into safe terms, and page the answers.

A query is split into words (runs of letters and digits, case-folded): anything else, such as
quotes, ``*``, ``:``, ``-``, ``(``, ``NEAR`` syntax or SQL, only separates words, so no input
can break the full-text syntax of either database. At most ``MAX_TERMS`` words of at most
``MAX_TERM_LENGTH`` characters are used; every word matches as a prefix (``ann`` finds Anna)
and all of them must match. No words and no filters: no results (not an error).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.accounts.models import User
from mitalk.network import repository as network_repo
from mitalk.network import service as network
from mitalk.rooms.presenters import room_status
from mitalk.search import repository as repo
from mitalk.search.schemas import (
    PeopleResults,
    PersonHit,
    RoomHit,
    RoomResults,
    SuggestedPerson,
    SuggestionsOut,
)

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
    exact = {
        k: v.strip()
        for k, v in (("skill", skill), ("industry", industry), ("open_to", open_to))
        if v and v.strip()
    }
    # Filters also narrow through the full-text index (as column-scoped phrases), then the exact
    # comparison decides: "go" as a skill must not match "Google" in the company name.
    scoped = [
        (name, terms_of(exact[key]))
        for key, name in (("skill", "skills"), ("industry", "industry"), ("open_to", "open_to"))
        if key in exact
    ]
    if not terms and not any(words for _, words in scoped):
        return PeopleResults(people=[], next_offset=None)
    rows = await repo.search_people(
        session, viewer.id, terms, scoped, exact, limit + 1, offset,
        include_suspended=await access.is_staff(session, viewer),
    )  # fmt: skip
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


async def rooms(
    session: AsyncSession, viewer: User, q: str | None, limit: int, offset: int
) -> RoomResults:
    """Live and scheduled rooms the viewer may enter matching the words, best first."""
    terms = terms_of(q)
    if not terms:
        return RoomResults(rooms=[], next_offset=None)
    rows = await repo.search_rooms(session, viewer.id, terms, limit + 1, offset)
    return RoomResults(
        rooms=[
            RoomHit(
                id=r.id,
                title=r.title,
                topics=list(r.topics),
                visibility=r.visibility,
                host_id=r.host_id,
                status=room_status(r),
                starts_at=r.starts_at,
                created_at=r.created_at,
            )
            for r in rows[:limit]
        ],
        next_offset=_page(len(rows), limit, offset),
    )


SUGGESTED_PEOPLE = 20
SUGGESTED_TOPICS = 12
TOPIC_ROOMS_SCANNED = 500
PER_TOPIC = 10


async def suggestions(
    session: AsyncSession, key: bytes, is_sqlite: bool, viewer: User, now: dt.datetime
) -> SuggestionsOut:
    """Topics people talk about, and people to follow: contacts already inside first, then
    members whose profile speaks of your topics of interest (most shared first).

    Never yourself, anyone you follow already, or anyone blocked either way.
    """
    counts: Counter[str] = Counter()
    written: dict[str, str] = {}
    since = now - dt.timedelta(days=30)
    for topics in await repo.recent_room_topics(session, since, TOPIC_ROOMS_SCANNED):
        for topic in topics:
            written.setdefault(topic.casefold(), topic)
            counts[topic.casefold()] += 1
    popular = [written[k] for k, _ in counts.most_common(SUGGESTED_TOPICS)]

    skip = await network_repo.followee_ids(session, viewer.id) | {viewer.id}
    chosen: dict[str, SuggestedPerson] = {}
    contacts = await network.contacts_inside(session, key, is_sqlite, viewer, SUGGESTED_PEOPLE)
    for face in await network.people_out(session, [i for i in contacts if i not in skip]):
        chosen[face.id] = SuggestedPerson(person=face, via="contacts", topics=[])

    profile = await network_repo.profile_of(session, viewer.id)
    shared: dict[str, list[str]] = {}
    for topic in list(profile.topics or [])[:10] if profile else []:
        terms = terms_of(topic)
        if not terms:
            continue
        for hit in await repo.search_people(session, viewer.id, terms, [], {}, PER_TOPIC, 0):
            if hit.user_id not in skip and hit.user_id not in chosen:
                shared.setdefault(hit.user_id, []).append(topic)
    ranked = sorted(shared, key=lambda uid: (-len(shared[uid]), uid))
    room = SUGGESTED_PEOPLE - len(chosen)
    for face in await network.people_out(session, ranked[: max(room, 0)]):
        chosen[face.id] = SuggestedPerson(person=face, via="topics", topics=shared[face.id])
    return SuggestionsOut(topics=popular, people=list(chosen.values()))
