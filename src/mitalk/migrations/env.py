"""Alembic environment: runs on a connection handed in by ``mitalk.core.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from mitalk.models import Base
from mitalk.search.schema import include_name

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Migrate over the given synchronous connection (inside the caller's transaction)."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,  # the full-text indexes are not in the models
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `mitalk db upgrade`, which supplies the connection.")
run_migrations(connection)
