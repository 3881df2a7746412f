"""accounts and staged access

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 05:09:24.730708
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('access_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_state'))
    )
    op.create_table('login_codes',
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_login_codes'))
    )
    op.create_table('pass_drops',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('requested', sa.Integer(), nullable=False),
    sa.Column('admitted', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pass_drops'))
    )
    op.create_table('pass_windows',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('granted', sa.Integer(), nullable=False),
    sa.Column('opens_at', sa.DateTime(), nullable=False),
    sa.Column('closes_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pass_windows'))
    )
    op.create_table('staff',
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('phone', name=op.f('pk_staff'))
    )
    op.create_table('users',
    sa.Column('id', sa.String(length=24), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('invites_left', sa.Integer(), nullable=False),
    sa.Column('admitted_via', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('phone', name=op.f('uq_users_phone'))
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("inviter_id", sa.String(length=24), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("invitee_id", sa.String(length=24), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitee_id"],
            ["users.id"],
            name=op.f("fk_invites_invitee_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["users.id"],
            name=op.f("fk_invites_inviter_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
    )
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invites_inviter_id'), ['inviter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invites_phone'), ['phone'], unique=False)
        batch_op.create_index(
            "uq_invites_pending_phone",
            ["phone"],
            unique=True,
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )

    op.create_table(
        "pass_grants",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("window_id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_pass_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["pass_windows.id"],
            name=op.f("fk_pass_grants_window_id_pass_windows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pass_grants")),
        sa.UniqueConstraint("user_id", name="uq_pass_grants_user"),
    )
    with op.batch_alter_table('pass_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pass_grants_window_id'), ['window_id'], unique=False)

    op.create_table(
        "profiles",
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("headline", sa.String(length=160), nullable=False),
        sa.Column("company", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=120), nullable=False),
        sa.Column("industry", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=120), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("open_to", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_profiles_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_profiles")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sessions_token_hash")),
    )
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sessions_user_id'), ['user_id'], unique=False)

    op.create_table(
        "waitlist",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(), nullable=True),
        sa.Column("admitted_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_waitlist_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_waitlist")),
        sa.UniqueConstraint("user_id", name=op.f("uq_waitlist_user_id")),
    )
    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_waiting_seq",
            ["seq"],
            unique=False,
            sqlite_where=sa.text("admitted_at IS NULL"),
            postgresql_where=sa.text("admitted_at IS NULL"),
        )


def downgrade() -> None:
    
    with op.batch_alter_table('waitlist', schema=None) as batch_op:
        batch_op.drop_index(
            "ix_waitlist_waiting_seq",
            sqlite_where=sa.text("admitted_at IS NULL"),
            postgresql_where=sa.text("admitted_at IS NULL"),
        )

    op.drop_table('waitlist')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sessions_user_id'))

    op.drop_table('sessions')
    op.drop_table('profiles')
    with op.batch_alter_table('pass_grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pass_grants_window_id'))

    op.drop_table('pass_grants')
    with op.batch_alter_table('invites', schema=None) as batch_op:
        batch_op.drop_index(
            "uq_invites_pending_phone",
            sqlite_where=sa.text("status = 'pending'"),
            postgresql_where=sa.text("status = 'pending'"),
        )
        batch_op.drop_index(batch_op.f('ix_invites_phone'))
        batch_op.drop_index(batch_op.f('ix_invites_inviter_id'))

    op.drop_table('invites')
    op.drop_table('users')
    op.drop_table('staff')
    op.drop_table('pass_windows')
    op.drop_table('pass_drops')
    op.drop_table('login_codes')
    op.drop_table('access_state')
    
