"""Tables of staged access: phase, staff, invites, waitlist, pass drops and claim windows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow
from mitalk.core.security import new_id

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigSerial = BigInteger().with_variant(Integer(), "sqlite")


class AccessState(Base):
    """The deployment's single row of access state: the phase."""

    __tablename__ = "access_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16))  # internal | invite | open
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffPhone(Base):
    """A staff phone number; staff may enter in every phase, even before they register."""

    __tablename__ = "staff"

    phone: Mapped[str] = mapped_column(String(16), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invite(Base):
    """An invite bound to a phone number; spends one of the inviter's invites."""

    __tablename__ = "invites"
    __table_args__ = (
        # At most one pending invite per number, whoever sent it.
        Index(
            "uq_invites_pending_phone", "phone", unique=True,
            sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    inviter_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | used | revoked
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    invitee_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class WaitlistEntry(Base):
    """A place in the waitlist; ``seq`` orders it by verification time and never changes.

    ``seq`` is dense (1, 2, 3, … handed out by ``WaitlistCounters.joined``), so a position is
    ``seq - head - (admitted out of order between the head and me)``: two index look-ups, never
    a count over the whole line.
    """

    __tablename__ = "waitlist"
    __table_args__ = (
        Index(
            "ix_waitlist_waiting_seq", "seq",
            sqlite_where=text("admitted_at IS NULL"), postgresql_where=text("admitted_at IS NULL"),
        ),
        Index(
            "ix_waitlist_admitted_seq", "seq",
            sqlite_where=text("admitted_at IS NOT NULL"),
            postgresql_where=text("admitted_at IS NOT NULL"),
        ),
    )

    seq: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=False)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    admitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # What let the entry in: "drop:<id>", "window:<id>", "invite", "staff", "open".
    admitted_by: Mapped[str | None] = mapped_column(String(64), default=None)


class WaitlistCounters(Base):
    """The line's running totals: kept in step with every join and admission, read in O(1)."""

    __tablename__ = "waitlist_counters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    joined: Mapped[int] = mapped_column(BigInteger, default=0)
    admitted: Mapped[int] = mapped_column(BigInteger, default=0)


class PassDrop(Base):
    """An operator's drop of N passes to the head of the waitlist; its id makes it idempotent.

    A drop runs in batches, each committed with its admissions and ``admitted`` count, so a drop
    killed midway is resumed (never repeated) by running it again.
    """

    __tablename__ = "pass_drops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    requested: Mapped[int] = mapped_column(Integer)
    admitted: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class PassWindow(Base):
    """A claim window: ``total`` passes that waitlisters race to claim between two times."""

    __tablename__ = "pass_windows"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    total: Mapped[int] = mapped_column(Integer)
    granted: Mapped[int] = mapped_column(Integer, default=0)
    opens_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PassGrant(Base):
    """A pass granted in a claim window; one per person, ever."""

    __tablename__ = "pass_grants"
    __table_args__ = (UniqueConstraint("user_id", name="uq_pass_grants_user"),)

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    window_id: Mapped[str] = mapped_column(
        ForeignKey("pass_windows.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
