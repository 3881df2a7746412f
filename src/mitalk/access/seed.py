"""Fill the waitlist with synthetic accounts in bulk: for benchmarks and staging, never production.

Rows go straight in (COPY on PostgreSQL, executemany on SQLite) with dense places continuing the
line, and the line's totals are kept in step, so everything else sees an ordinary waitlist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from mitalk.core.database import Database, utcnow

SEED_PHONE_PREFIX = "+4915"  # +4915 and 9 digits: valid-looking German mobile numbers


async def _bulk_insert(
    conn: AsyncConnection,
    db: Database,
    table: str,
    columns: list[str],
    rows: Sequence[tuple[object, ...]],
) -> None:
    """Insert rows fast: COPY on PostgreSQL, executemany on SQLite."""
    if db.is_sqlite:
        marks = ", ".join("?" for _ in columns)
        await conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        return
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.copy_records_to_table(table, records=rows, columns=columns)


def seed_phone(n: int) -> str:
    """The phone number of synthetic account ``n``."""
    return f"{SEED_PHONE_PREFIX}{n:09d}"


async def seed_waitlist(db: Database, count: int, chunk: int = 100_000) -> tuple[int, int]:
    """Append ``count`` waitlisted accounts to the line; returns their (first, last) place."""
    async with db.engine.begin() as conn:
        row = (
            await conn.execute(text("SELECT joined FROM waitlist_counters WHERE id = 1"))
        ).first()
        if row is None:
            await conn.execute(
                text("INSERT INTO waitlist_counters (id, joined, admitted) VALUES (1, 0, 0)")
            )
            start = 1
        else:
            start = int(row[0]) + 1
        now = utcnow().replace(tzinfo=None)  # stored as naive UTC, like UTCDateTime
        for offset in range(0, count, chunk):
            places = range(start + offset, start + min(count, offset + chunk))
            users = [(f"seed{p:020d}", seed_phone(p), "waitlisted", 0, now) for p in places]
            entries = [(p, f"seed{p:020d}", now) for p in places]
            await _bulk_insert(
                conn, db, "users", ["id", "phone", "status", "invites_left", "created_at"], users
            )
            await _bulk_insert(conn, db, "waitlist", ["seq", "user_id", "joined_at"], entries)
        await conn.execute(
            text("UPDATE waitlist_counters SET joined = joined + :n WHERE id = 1"), {"n": count}
        )
    # Bulk loading leaves the planner without statistics, which a line that grew over weeks
    # would have: gather them, as autovacuum would.
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE users"))
            await conn.execute(text("ANALYZE waitlist"))
        else:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    return start, start + count - 1




async def seed_sessions(db: Database, first: int, count: int) -> list[str]:
    """Sign in the synthetic accounts at places first…first+count-1; returns their tokens."""
    tokens = [f"seed-{first + i}-{os.urandom(8).hex()}" for i in range(count)]
    created = utcnow().replace(tzinfo=None)
    expires = created + dt.timedelta(days=1)
    rows = [
        (
            f"ss{first + i:022d}",
            f"seed{first + i:020d}",
            hashlib.sha256(t.encode()).hexdigest(),
            created,
            expires,
        )
        for i, t in enumerate(tokens)
    ]
    async with db.engine.begin() as conn:
        await _bulk_insert(
            conn, db, "sessions", ["id", "user_id", "token_hash", "created_at", "expires_at"], rows
        )
    async with db.engine.connect() as conn:
        if not db.is_sqlite:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE sessions"))
    return tokens
