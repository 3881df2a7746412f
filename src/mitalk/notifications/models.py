"""The table of notices: what people are told in the app, and the outbox of their text messages."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow


class Notification(Base):
    """An in-app notice, and the transactional outbox of its text message.

    Written in the same transaction as the change it announces; ``dedupe_key`` makes a second
    notice for the same thing (e.g. the same pass) impossible. The SMS worker moves
    ``sms_status`` pending → sending (with a lease in ``sms_next_at``) → sent, or back to
    pending with a back-off, or failed after its last attempt.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index(
            "ix_notifications_sms_due", "sms_next_at",
            sqlite_where=text("sms_status IN ('pending', 'sending')"),
            postgresql_where=text("sms_status IN ('pending', 'sending')"),
        ),
        Index("ix_notifications_user_created", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[str] = mapped_column(String(320))
    # What the notice is about, for links in clients: {"room_id": …, "user_id": …}.
    data: Mapped[dict[str, str] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sms_status: Mapped[str] = mapped_column(
        String(8), default="none"
    )  # none|pending|sending|sent|failed
    sms_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sms_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sms_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
