"""launch rush

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:32:59.289128
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('waitlist_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('joined', sa.BigInteger(), nullable=False),
    sa.Column('admitted', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_counters'))
    )
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("body", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("read_at", sa.DateTime(), nullable=True),
        sa.Column("sms_status", sa.String(length=8), nullable=False),
        sa.Column("sms_attempts", sa.Integer(), nullable=False),
        sa.Column("sms_next_at", sa.DateTime(), nullable=True),
        sa.Column("sms_sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_sms_due",
            ["sms_next_at"],
            unique=False,
            sqlite_where=sa.text("sms_status IN ('pending', 'sending')"),
            postgresql_where=sa.text("sms_status IN ('pending', 'sending')"),
        )
        batch_op.create_index('ix_notifications_user_created', ['user_id', 'id'], unique=False)

    with op.batch_alter_table('pass_drops', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="done")
        )
        batch_op.add_column(sa.Column('finished_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_admitted_seq",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("admitted_at IS NOT NULL"),
            postgresql_where=sa.text("admitted_at IS NOT NULL"),
        )

    # Positions now assume a dense seq (1, 2, 3, …): renumber existing entries in order (in two
    # steps, so that no intermediate value collides) and start the counters from them.
    op.execute("UPDATE waitlist SET seq = -seq")
    op.execute(
        "UPDATE waitlist SET seq = (SELECT COUNT(*) FROM waitlist AS w WHERE w.seq >= waitlist.seq)"
    )
    op.execute(
        "INSERT INTO waitlist_counters (id, joined, admitted) SELECT 1, COUNT(*), "
        "COUNT(admitted_at) FROM waitlist"
    )




def downgrade() -> None:

    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.drop_index(
            "ix_waitlist_admitted_seq",
            sqlite_where=sa.text("admitted_at IS NOT NULL"),
            postgresql_where=sa.text("admitted_at IS NOT NULL"),
        )

    with op.batch_alter_table('pass_drops', schema=None) as batch_op:
        batch_op.drop_column('finished_at')
        batch_op.drop_column('status')

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_created')
        batch_op.drop_index(
            "ix_notifications_sms_due",
            sqlite_where=sa.text("sms_status IN ('pending', 'sending')"),
            postgresql_where=sa.text("sms_status IN ('pending', 'sending')"),
        )

    op.drop_table('notifications')
    op.drop_table('waitlist_counters')

