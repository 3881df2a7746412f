"""profiles.card_email, card_share_links, card_share_phone: what a contact card carries

Revision ID: 0440
Revises: 0420
Create Date: 2026-11-29 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0440"
down_revision: str | None = "0420"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no table copy: the search index's triggers on SQLite stay as they are).
    op.add_column(
        "profiles",
        sa.Column("card_email", sa.String(length=254), nullable=False, server_default=""),
    )
    for name in ("card_share_links", "card_share_phone"):
        op.add_column(
            "profiles", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("profiles", schema=None) as batch_op:
        for name in ("card_share_phone", "card_share_links", "card_email"):
            batch_op.drop_column(name)
