"""sign-in codes: one per request, bound to its requester's ticket, tries counted apart

Revision ID: 0410
Revises: 0400
Create Date: 2026-11-29 00:40:00

Codes live five minutes, so the old table is dropped rather than converted: a code sent just
before the upgrade stops working and its owner asks for another.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0410"
down_revision: str | None = "0400"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("login_codes")
    op.create_table(
        "login_codes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("stranger_attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_codes")),
    )
    with op.batch_alter_table("login_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_codes_phone"), ["phone"], unique=False)


def downgrade() -> None:
    op.drop_table("login_codes")
    op.create_table(
        "login_codes",
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_login_codes")),
    )
