"""contact uploads counted (limits with numbers); own-number digests only for who opts in

Revision ID: 0450
Revises: 0440
Create Date: 2026-11-29 00:40:00

Until now every waitlisted account's number was digested (lazily) so that any member's upload
could find it: uploads and the waiting list together mapped numbers to people. From here a
digest is kept only for an account that asks to be found, so the existing ones are dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0450"
down_revision: str | None = "0440"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_contact_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_uploads")),
    )
    with op.batch_alter_table("contact_uploads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_uploads_user_at", ["user_id", "uploaded_at"], unique=False
        )
    op.execute("DELETE FROM phone_digests")


def downgrade() -> None:
    with op.batch_alter_table("contact_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_uploads_user_at")
    op.drop_table("contact_uploads")
