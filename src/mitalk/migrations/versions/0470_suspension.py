"""users.suspended_*: staff may suspend an account (no sign-in, sessions or rooms until it ends)

Revision ID: 0470
Revises: 0460
Create Date: 2026-11-29 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0470"
down_revision: str | None = "0460"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("suspended_at", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("suspended_until", sa.DateTime(), nullable=True))
    op.add_column("users", sa.Column("suspended_reason", sa.String(length=200), nullable=True))
    op.add_column("users", sa.Column("suspended_by", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("suspended_by")
        batch_op.drop_column("suspended_reason")
        batch_op.drop_column("suspended_until")
        batch_op.drop_column("suspended_at")
