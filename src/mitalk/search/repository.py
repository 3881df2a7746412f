"""Every SQL query of search: FTS5 on SQLite, tsvector + GIN on PostgreSQL (never a scan).

Both take already-sanitised terms (letters and digits only), so no user input ever reaches the
full-text query syntax of either database. Every term matches as a prefix (type-ahead), and all
terms must match. Ranking: SQLite's bm25 with per-column weights; PostgreSQL's ts_rank with the
A/B/C weights of the generated vector (name, then work, then tags).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    column,
    exists,
    func,
    literal_column,
    select,
    table,
    text,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.network.models import Profile
from mitalk.rooms.models import Room
from mitalk.rooms.visibility import blocked_either_way, room_visible_to

# bm25 weights per FTS column (see mitalk.search.schema.PEOPLE_COLUMNS / ROOM_COLUMNS).
_PEOPLE_BM25 = (10.0, 3.0, 5.0, 4.0, 4.0, 5.0, 2.0)
_ROOMS_BM25 = (10.0, 5.0)
# ts_rank weights for D, C, B, A: a word in the name counts five times one in work or tags.
_TS_WEIGHTS = "{0.05, 0.1, 0.2, 1.0}"
_PEOPLE_FTS = table("search_people", column("rowid"))
_ROOMS_FTS = table("search_rooms", column("rowid"))
_PROFILE_ROWID: ColumnElement[int] = literal_column("profiles.rowid")
_ROOM_ROWID: ColumnElement[int] = literal_column("rooms.rowid")


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def fts5_query(terms: Sequence[str], scoped: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """An FTS5 MATCH string: every term as a quoted prefix, filters as column-scoped phrases."""
    parts = [f'"{t}"*' for t in terms]
    parts += [f'{{{col}}} : "{" ".join(words)}"' for col, words in scoped if words]
    return " AND ".join(parts)


def tsquery(terms: Sequence[str], scoped: Sequence[tuple[str, Sequence[str]]] = ()) -> str:
    """A PostgreSQL to_tsquery string: every term as a prefix, filter words as plain terms."""
    parts = [f"{t}:*" for t in terms]
    parts += [w for _, words in scoped for w in words]
    return " & ".join(parts)


def _json_has(
    session: AsyncSession, column: SQLColumnExpression[list[str]], value: str
) -> ColumnElement[bool]:
    """Whether a JSON list column holds ``value`` (compared case-insensitively)."""
    fn = func.json_each if _is_sqlite(session) else func.json_array_elements_text
    items = fn(column).table_valued("value").alias("item")
    return exists(
        select(1).select_from(items).where(func.lower(items.c.value) == func.lower(value))
    )


async def search_people(
    session: AsyncSession,
    viewer_id: str,
    terms: Sequence[str],
    scoped: Sequence[tuple[str, Sequence[str]]],
    exact: dict[str, str],
    limit: int,
    offset: int,
    include_suspended: bool = False,
) -> Sequence[Profile]:
    """Active members matching every term and filter, best first (never the viewer, never
    someone blocked either way; a suspended member only with ``include_suspended``: staff)."""
    stmt: Select[Profile]
    if _is_sqlite(session):
        fts: ColumnElement[str] = literal_column("search_people")
        rank = func.bm25(fts, *_PEOPLE_BM25)
        stmt = (
            select(Profile)
            .join(_PEOPLE_FTS, _PEOPLE_FTS.c.rowid == _PROFILE_ROWID)
            .where(fts.op("MATCH")(fts5_query(terms, scoped)))
            .order_by(rank, Profile.user_id)
        )
    else:
        vector: ColumnElement[str] = literal_column("profiles.search_vector")
        query = func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(terms, scoped))
        stmt = (
            select(Profile)
            .where(vector.op("@@")(query))
            .order_by(
                func.ts_rank(literal_column(f"'{_TS_WEIGHTS}'::float4[]"), vector, query).desc(),
                Profile.user_id,
            )
        )
    filters: list[ColumnElement[bool]] = [
        Profile.user_id != viewer_id,
        ~blocked_either_way(viewer_id, Profile.user_id),
        # Never a suspended member (nor one whose suspension ended until they sign in again),
        # except for staff, who must find them to lift it.
        exists().where(
            User.id == Profile.user_id,
            User.status == "active",
            true() if include_suspended else User.suspended_at.is_(None),
        ),
    ]
    if "industry" in exact:
        filters.append(func.lower(Profile.industry) == func.lower(exact["industry"]))
    if "skill" in exact:
        filters.append(_json_has(session, Profile.skills, exact["skill"]))
    if "open_to" in exact:
        filters.append(_json_has(session, Profile.open_to, exact["open_to"]))
    return (await session.scalars(stmt.where(and_(*filters)).limit(limit).offset(offset))).all()


def _rooms_statement(session: AsyncSession, viewer_id: str, terms: Sequence[str]) -> Select[Room]:
    if _is_sqlite(session):
        fts: ColumnElement[str] = literal_column("search_rooms")
        stmt = (
            select(Room)
            .join(_ROOMS_FTS, _ROOMS_FTS.c.rowid == _ROOM_ROWID)
            .where(fts.op("MATCH")(fts5_query(terms)))
            .order_by(func.bm25(fts, *_ROOMS_BM25), Room.created_at.desc(), Room.id)
        )
    else:
        vector: ColumnElement[str] = literal_column("rooms.search_vector")
        query = func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(terms))
        stmt = (
            select(Room)
            .where(vector.op("@@")(query))
            .order_by(
                func.ts_rank(literal_column(f"'{_TS_WEIGHTS}'::float4[]"), vector, query).desc(),
                Room.created_at.desc(),
                Room.id,
            )
        )
    return stmt.where(Room.status.in_(("live", "scheduled")), room_visible_to(viewer_id))


async def search_rooms(
    session: AsyncSession, viewer_id: str, terms: Sequence[str], limit: int, offset: int
) -> Sequence[Room]:
    """Live and scheduled rooms the viewer may enter matching every term, best first."""
    stmt = _rooms_statement(session, viewer_id, terms)
    return (await session.scalars(stmt.limit(limit).offset(offset))).all()


async def explain_people(session: AsyncSession, viewer_id: str, terms: Sequence[str]) -> str:
    """The database's plan for a people search (to check that the full-text index is used)."""
    stmt = (
        select(Profile.user_id)
        .where(literal_column("search_people").op("MATCH")(fts5_query(terms)))
        .join(_PEOPLE_FTS, _PEOPLE_FTS.c.rowid == _PROFILE_ROWID)
        if _is_sqlite(session)
        else select(Profile.user_id).where(
            literal_column("profiles.search_vector").op("@@")(
                func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(terms))
            )
        )
    ).where(~blocked_either_way(viewer_id, Profile.user_id))
    compiled = stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if _is_sqlite(session) else "EXPLAIN "
    rows = await session.execute(text(prefix + str(compiled)))
    return "\n".join(" ".join(str(c) for c in row) for row in rows.all())


async def recent_room_topics(
    session: AsyncSession, since: dt.datetime, rooms: int
) -> Sequence[list[str]]:
    """The topics of the newest open rooms created since ``since`` (at most ``rooms`` rooms)."""
    rows = await session.scalars(
        select(Room.topics)
        .where(Room.visibility == "open", Room.created_at >= since)
        .order_by(Room.created_at.desc())
        .limit(rooms)
    )
    return [list(topics or []) for topics in rows.all()]
