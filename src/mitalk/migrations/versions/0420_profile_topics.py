"""profiles.topics: the topics of interest onboarding asks for

Revision ID: 0420
Revises: 0410
Create Date: 2026-11-29 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0420"
down_revision: str | None = "0410"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table copy: the search index's triggers and
    # rowids on SQLite stay as they are).
    op.add_column(
        "profiles",
        sa.Column("topics", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        batch_op.drop_column("topics")
