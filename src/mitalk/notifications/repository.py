"""Every SQL query of notices: writing them (one, many, or a whole batch in one INSERT … SELECT),
reading them, and the text-message outbox."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.notifications.models import Notification

# The columns an INSERT … SELECT fills, in this order.
FANOUT_COLUMNS = (
    "user_id", "kind", "dedupe_key", "body", "data", "created_at",
    "sms_status", "sms_attempts", "sms_next_at",
)


# A notice's text in every language, by language (core.messages.LANGUAGES); "en" is the default.
Bodies = dict[str, str]


def _body_for(bodies: Bodies, uid: ColumnElement[str]) -> ColumnElement[str]:
    """The text in the recipient's language, chosen by the database row by row."""
    others = [(lang, text) for lang, text in bodies.items() if lang != "en"]
    if not others:
        return literal(bodies["en"], String())
    language = select(User.language).where(User.id == uid).scalar_subquery()
    # The simple form (CASE language WHEN 'de' THEN …) looks the language up once a row; the
    # searched form repeated the subquery in each WHEN, three look-ups per English reader.
    return case(
        {lang: literal(text, String()) for lang, text in others},
        value=language,
        else_=literal(bodies["en"], String()),
    )


async def language_of(session: AsyncSession, user_id: str) -> str | None:
    """The language a person's notices are written in (None: English)."""
    return await session.scalar(select(User.language).where(User.id == user_id))


async def languages_of(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, str | None]:
    """The languages of these people (in chunks of 1000)."""
    found: dict[str, str | None] = {}
    ids = list(dict.fromkeys(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(User.id, User.language).where(User.id.in_(ids[start : start + 1000]))
        )
        found.update({str(i): lang for i, lang in rows.all()})
    return found


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT that can skip rows whose ``dedupe_key`` exists already."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Notification)


async def add_notice(
    session: AsyncSession, user_id: str, kind: str, body: str, dedupe_key: str,
    data: dict[str, str] | None, now: dt.datetime, sms: bool,
) -> Notification | None:
    """Store one notice unless one with this ``dedupe_key`` exists; the new row, or None."""
    stmt = (
        _insert(session)
        .values(
            user_id=user_id, kind=kind, dedupe_key=dedupe_key, body=body, data=data,
            created_at=now, sms_status="pending" if sms else "none", sms_attempts=0,
            sms_next_at=now if sms else None,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification)
    )
    row: Notification | None = (await session.scalars(stmt)).one_or_none()
    return row


async def add_notices_from(
    session: AsyncSession, recipients: Select[str], kind: str, bodies: Bodies,
    key_prefix: str, data: dict[str, str] | None, now: dt.datetime, sms: bool,
) -> list[tuple[int, str, str]]:
    """One notice per person the ``recipients`` query yields, in one INSERT … SELECT.

    Returns (id, user_id, body) of the new rows, each body in its reader's language. Keys are
    ``key_prefix:user_id``; people who have that notice already are skipped. The database does
    the whole fan-out in one statement: no rows travel to Python and back.
    """
    recipients_sq = recipients.subquery()
    uid: ColumnElement[str] = recipients_sq.c[0]
    source = select(
        uid,
        literal(kind),
        literal(key_prefix + ":", String()) + uid,
        _body_for(bodies, uid),
        literal(data, Notification.__table__.c.data.type),
        literal(now, Notification.__table__.c.created_at.type),
        literal("pending" if sms else "none"),
        literal(0),
        literal(now if sms else None, Notification.__table__.c.sms_next_at.type),
    ).where(uid.is_not(None))
    stmt = (
        _insert(session)
        .from_select(list(FANOUT_COLUMNS), source)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Notification.id, Notification.user_id, Notification.body)
    )
    # Only ids and texts come back: the rest of each row is what was just written.
    return [(int(i), str(u), str(b)) for i, u, b in (await session.execute(stmt)).all()]


async def unread_counts(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, int]:
    """How many unread notices each of these people has (in chunks of 1000)."""
    counts: dict[str, int] = {}
    ids = list(dict.fromkeys(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Notification.user_id, func.count())
            .where(
                Notification.user_id.in_(ids[start : start + 1000]), Notification.read_at.is_(None)
            )
            .group_by(Notification.user_id)
        )
        counts.update({uid: int(n) for uid, n in rows.all()})
    return counts


async def add_notices_quietly_from(
    session: AsyncSession, recipients: Select[str], kind: str, bodies: Bodies, key_prefix: str,
    now: dt.datetime, sms: bool,
) -> None:
    """One notice per person the ``recipients`` query yields, in one INSERT … SELECT that returns
    nothing: the database does the whole batch (a pass drop's thousands) without a row travelling
    to Python. Keys are ``key_prefix:user_id``; people who have that notice already are skipped
    (a resumed drop writes the notices a killed run did not get to, and only those)."""
    recipients_sq = recipients.subquery()
    uid: ColumnElement[str] = recipients_sq.c[0]
    await session.execute(
        _insert(session).from_select(
            [
                "user_id",
                "kind",
                "dedupe_key",
                "body",
                "created_at",
                "sms_status",
                "sms_attempts",
                "sms_next_at",
            ],
            select(
                uid,
                literal(kind),
                literal(key_prefix + ":", String()) + uid,
                _body_for(bodies, uid),
                literal(now, Notification.__table__.c.created_at.type),
                literal("pending" if sms else "none"),
                literal(0),
                literal(now if sms else None, Notification.__table__.c.sms_next_at.type),
            # A WHERE before ON CONFLICT: SQLite would read the ON as a join's otherwise.
            ).where(uid.is_not(None)),
        ).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )


async def delete_about(session: AsyncSession, owner: str, other: str) -> None:
    """Delete the notices of ``owner`` that link to ``other`` (a request, a card, a room start)."""
    await session.execute(
        delete(Notification).where(
            Notification.user_id == owner, Notification.data["user_id"].as_string() == other
        )
    )


async def add_notices(
    session: AsyncSession, user_ids: Sequence[str], kind: str, key_prefix: str, bodies: Bodies,
    now: dt.datetime, sms: bool,
) -> None:
    """Write one notice per person in bulk (the SMS outbox too), each in its reader's language;
    ``key_prefix:user`` is unique."""
    if not user_ids:
        return
    languages = await languages_of(session, user_ids)
    # Core's insert of many rows, not the ORM's bulk path, which works over every row in Python
    # (a claim rush writes one notice per grant; see access.repository.add_grants).
    await session.execute(
        insert(cast(Table, Notification.__table__)),
        [
            {
                "user_id": uid, "kind": kind, "dedupe_key": f"{key_prefix}:{uid}",
                "body": bodies.get(languages.get(uid) or "en", bodies["en"]),
                "created_at": now, "sms_status": "pending" if sms else "none",
                "sms_attempts": 0, "sms_next_at": now if sms else None,
            }
            for uid in user_ids
        ],
    )


async def notices_of(session: AsyncSession, user_id: str, limit: int) -> Sequence[Notification]:
    """A person's newest notices."""
    return (
        await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    ).all()


async def unread_count(session: AsyncSession, user_id: str) -> int:
    """How many of a person's notices are unread."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


async def mark_read(session: AsyncSession, user_id: str, up_to_id: int, now: dt.datetime) -> None:
    """Mark a person's notices up to ``up_to_id`` read."""
    await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.id <= up_to_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
    )


async def lease_due_sms(
    session: AsyncSession, now: dt.datetime, lease_until: dt.datetime, limit: int, lock: bool
) -> Sequence[tuple[int, str, str, str]]:
    """Take up to ``limit`` text messages that are due (or whose lease ran out) for sending.

    Returns (id, phone, body, dedupe_key) and marks them ``sending`` until ``lease_until``.
    """
    due = (
        select(Notification.id)
        .where(Notification.sms_status.in_(("pending", "sending")), Notification.sms_next_at <= now)
        .order_by(Notification.sms_next_at, Notification.id)
        .limit(limit)
    )
    if lock:
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(
            sms_status="sending",
            sms_next_at=lease_until,
            sms_attempts=Notification.sms_attempts + 1,
        )
    )
    rows = await session.execute(
        select(Notification.id, User.phone, Notification.body, Notification.dedupe_key)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    )
    return [(int(i), p, b, k) for i, p, b, k in rows.all()]


async def mark_sms_sent(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> None:
    """Record text messages as handed to the provider."""
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(Notification).where(Notification.id.in_(ids[start : start + 1000])).values(
                sms_status="sent", sms_sent_at=now, sms_next_at=None
            )
        )


async def mark_sms_failed(
    session: AsyncSession, notice_id: int, retry_at: dt.datetime | None
) -> None:
    """Put a message back for a retry at ``retry_at``, or give up on it (None)."""
    await session.execute(
        update(Notification).where(Notification.id == notice_id).values(
            sms_status="pending" if retry_at else "failed", sms_next_at=retry_at
        )
    )


async def sms_backlog(session: AsyncSession) -> dict[str, int]:
    """How many text messages are in each state."""
    rows = await session.execute(
        select(Notification.sms_status, func.count()).group_by(Notification.sms_status)
    )
    return {status: int(n) for status, n in rows.all()}


async def attempts_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """How many times each message was tried."""
    rows = await session.execute(
        select(Notification.id, Notification.sms_attempts).where(Notification.id.in_(ids))
    )
    return {int(i): int(n) for i, n in rows.all()}
