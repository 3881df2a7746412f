"""Every SQL query that writes notifications (reading them is in ``mitalk.network.repository``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.network.models import Notification

# The columns an INSERT … SELECT fills, in this order.
FANOUT_COLUMNS = (
    "user_id", "kind", "dedupe_key", "body", "data", "created_at",
    "sms_status", "sms_attempts", "sms_next_at",
)


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
    session: AsyncSession, recipients: Select[str], kind: str, body: str,
    key_prefix: str, data: dict[str, str] | None, now: dt.datetime, sms: bool,
) -> list[tuple[int, str]]:
    """One notice per person the ``recipients`` query yields, in one INSERT … SELECT.

    Returns (id, user_id) of the new rows. Keys are ``key_prefix:user_id``; people who have that
    notice already are skipped. The
    database does the whole fan-out in one statement: no rows travel to Python and back.
    """
    recipients_sq = recipients.subquery()
    uid: ColumnElement[str] = recipients_sq.c[0]
    source = select(
        uid,
        literal(kind),
        literal(key_prefix + ":", String()) + uid,
        literal(body),
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
        .returning(Notification.id, Notification.user_id)
    )
    # Only ids come back: the rest of each row is what was just written.
    return [(int(i), str(u)) for i, u in (await session.execute(stmt)).all()]


async def unread_counts(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, int]:
    """How many unread notices each of these people has (in chunks of 1000)."""
    counts: dict[str, int] = {}
    ids = list(dict.fromkeys(user_ids))
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(Notification.user_id, func.count())
            .where(Notification.user_id.in_(ids[start : start + 1000]), Notification.read_at.is_(None))
            .group_by(Notification.user_id)
        )
        counts.update({uid: int(n) for uid, n in rows.all()})
    return counts
