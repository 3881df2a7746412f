"""rooms: rooms, participants, room invites, moderation log

Revision ID: 0100
Revises: 0002
Create Date: 2026-11-21 05:37:09.243303
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0100"
down_revision: str | None = "0002"  # asked: '0001'; 0002 landed on it meanwhile
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rooms",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("host_id", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_id"], ["users.id"], name=op.f("fk_rooms_host_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rooms_host_id"), ["host_id"], unique=False)
        batch_op.create_index("ix_rooms_status_created_at", ["status", "created_at"], unique=False)

    op.create_table(
        "room_invites",
        sa.Column("room_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("invited_by", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["users.id"],
            name=op.f("fk_room_invites_invited_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_invites_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_room_invites_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_invites")),
    )
    with op.batch_alter_table("room_invites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_invites_user_id"), ["user_id"], unique=False)

    op.create_table(
        "room_moderation_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("room_id", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.String(length=24), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_room_moderation_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_moderation_log_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["users.id"],
            name=op.f("fk_room_moderation_log_target_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_moderation_log")),
    )
    with op.batch_alter_table("room_moderation_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_room_moderation_log_room_id"), ["room_id"], unique=False
        )

    op.create_table(
        "room_participants",
        sa.Column("room_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("presence", sa.String(length=16), nullable=False),
        sa.Column("hand_raised", sa.Boolean(), nullable=False),
        sa.Column("muted", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("on_stage_seq", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_room_participants_room_id_rooms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_room_participants_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_participants")),
    )
    with op.batch_alter_table("room_participants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_room_participants_room_presence", ["room_id", "presence"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_room_participants_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("room_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_participants_user_id"))
        batch_op.drop_index("ix_room_participants_room_presence")

    op.drop_table("room_participants")
    with op.batch_alter_table("room_moderation_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_moderation_log_room_id"))

    op.drop_table("room_moderation_log")
    with op.batch_alter_table("room_invites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_invites_user_id"))

    op.drop_table("room_invites")
    with op.batch_alter_table("rooms", schema=None) as batch_op:
        batch_op.drop_index("ix_rooms_status_created_at")
        batch_op.drop_index(batch_op.f("ix_rooms_host_id"))

    op.drop_table("rooms")
