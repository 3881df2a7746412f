"""scheduled rooms, RSVPs, notification links, full-text search indexes

Revision ID: 0300
Revises: 0200
Create Date: 2026-11-21 08:10:00

The search indexes are not in the models (FTS5 virtual tables on SQLite, a generated
tsvector column with a GIN index on PostgreSQL): see ``mitalk.search.schema``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mitalk.search import schema as search_schema

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_rsvps",
        sa.Column("room_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["rooms.id"], name=op.f("fk_room_rsvps_room_id_rooms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_rsvps_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_rsvps")),
    )
    with op.batch_alter_table("room_rsvps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_rsvps_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.add_column(sa.Column("starts_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(), nullable=True))
        batch_op.create_index("ix_rooms_status_starts_at", ["status", "starts_at"], unique=False)
    op.execute("UPDATE rooms SET started_at = created_at WHERE started_at IS NULL")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.JSON(), nullable=True))

    statements = (
        search_schema.sqlite_create()
        if op.get_bind().dialect.name == "sqlite"
        else search_schema.postgres_create()
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    statements = (
        search_schema.sqlite_drop()
        if op.get_bind().dialect.name == "sqlite"
        else search_schema.postgres_drop()
    )
    for statement in statements:
        op.execute(statement)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("data")

    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index("ix_rooms_status_starts_at")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("starts_at")

    with op.batch_alter_table("room_rsvps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_rsvps_user_id"))

    op.drop_table("room_rsvps")
