"""Async SQLAlchemy engine, sessions, and the commit-at-the-edge unit of work."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from mitalk.core.errors import AppError

log = structlog.get_logger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base for every table; constraint names are stable for migrations."""

    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: the same on SQLite (no zones) and PostgreSQL."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def make_engine(url: str, read_only: bool = False) -> AsyncEngine:
    """An engine tuned per backend: SQLite in WAL mode with write-locking transactions.

    ``read_only``: statements run without an explicit transaction (autocommit reads); on SQLite
    readers then never queue behind writers, on PostgreSQL they save two round trips.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin").
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        if not read_only:

            @event.listens_for(engine.sync_engine, "begin")
            def _sqlite_begin(conn: Any) -> None:
                # IMMEDIATE takes the write lock up front, so two transactions that read and
                # then write never deadlock on a lock upgrade; the busy timeout queues them.
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        # read_only: no BEGIN at all; each SELECT is its own consistent snapshot in WAL mode,
        # which saves two round trips to the driver's thread per read on the hot path.

        return engine
    if read_only:
        # Autocommit reads: no BEGIN/ROLLBACK round trips around a single SELECT (half the
        # cost of a hot-path read), and no pre-ping; a dead connection is recycled instead.
        return create_async_engine(
            url, pool_size=10, max_overflow=20, isolation_level="AUTOCOMMIT", pool_recycle=300
        )
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class Database:
    """The engine and a session factory, owned by the app or a CLI command."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Hot read-only paths (authenticating a claim): never SQLite's write lock, and on
        # PostgreSQL no transaction round trips.
        self._read_engine = make_engine(url, read_only=True)
        self.read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        self._inline: sqlite3.Connection | None = None

    def inline_read(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """One row from a point read on SQLite, run inline on the calling thread.

        An indexed look-up in an in-process SQLite file takes microseconds, less than one hop to
        the async driver's thread; hot paths (a rush of claims) use this. Read-only connection,
        WAL snapshot per statement. Not for PostgreSQL (``None`` result is not "not found" there:
        callers check ``is_sqlite`` first).
        """
        if self._inline is None:
            path = self.url.split("///", 1)[1]
            self._inline = sqlite3.connect(
                f"file:{path}?mode=ro", uri=True, check_same_thread=False
            )
            self._inline.execute("PRAGMA query_only = 1")
        row: tuple[Any, ...] | None = self._inline.execute(sql, params).fetchone()
        return row

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        await self._read_engine.dispose()


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, effect: AfterCommit) -> None:
    """Queue a side effect (SMS, event) to run only once the session's work is committed."""
    session.info.setdefault("after_commit", []).append(effect)


async def run_after_commit(session: AsyncSession) -> None:
    """Run and clear the queued side effects; one failing does not stop the others."""
    effects: list[AfterCommit] = session.info.pop("after_commit", [])
    for effect in effects:
        try:
            await effect()
        except Exception:  # the commit stands; the effect is logged
            log.exception(
                "after_commit_failed", effect=getattr(effect, "__qualname__", repr(effect))
            )


@asynccontextmanager
async def unit_of_work(db: Database) -> AsyncIterator[AsyncSession]:
    """One transaction: commit and run side effects on success, roll back and drop them on error.

    An ``AppError`` with ``commit_changes`` commits first (a wrong sign-in code must still use
    up one of its attempts).
    """
    async with db.sessions() as session:
        try:
            yield session
        except AppError as exc:
            if exc.commit_changes:
                await session.commit()
                await run_after_commit(session)
            else:
                await session.rollback()
                session.info.pop("after_commit", None)
            raise
        except BaseException:
            await session.rollback()
            session.info.pop("after_commit", None)
            raise
        else:
            await session.commit()
            await run_after_commit(session)
