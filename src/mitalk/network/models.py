"""Tables of the professional network: profiles and notifications (follows and connections come later)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow


class Profile(Base):
    """What a person shows others; never their phone number."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), default="")
    headline: Mapped[str] = mapped_column(String(160), default="")
    company: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(120), default="")
    industry: Mapped[str] = mapped_column(String(64), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    bio: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    open_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


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
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sms_status: Mapped[str] = mapped_column(String(8), default="none")  # none|pending|sending|sent|failed
    sms_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sms_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    sms_sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
