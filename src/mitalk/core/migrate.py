"""Apply or create Alembic migrations on the app's own engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from mitalk.core.database import Database

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), revision))


async def current_revision(db: Database) -> str | None:
    """The schema revision the database is at (None when it has none)."""
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str | None:
    """The newest revision of the packaged migrations (what the code expects)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def autogenerate(db: Database, message: str) -> None:
    """Write a new revision from the models' difference to the database (developers only)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(
            lambda sync: command.revision(alembic_config(sync), message=message, autogenerate=True)
        )
