"""Tables of rooms: the room, who is or was in it, room invites, RSVPs, and the moderation log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow
from mitalk.core.security import new_id

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigSerial = BigInteger().with_variant(Integer(), "sqlite")


class Room(Base):
    """An audio room; ``seq`` is the number of the last event it published.

    A scheduled room (``status`` scheduled, ``starts_at`` set) has no people and no stage until
    its host starts it; then it is live exactly like a room opened on the spot.
    """

    __tablename__ = "rooms"
    __table_args__ = (
        Index("ix_rooms_status_created_at", "status", "created_at"),
        Index("ix_rooms_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(String(120))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    visibility: Mapped[str] = mapped_column(String(16))  # open | social | closed
    host_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="live")  # scheduled | live | ended
    # Bumped in the same transaction as the change an event describes: a snapshot read with
    # the room's rows is exactly the state after event ``seq``, and rolled-back work leaves no gap.
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # Scheduled rooms: when the host said it starts; ``started_at`` is when it went live
    # (for rooms opened on the spot, their creation time).
    starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the reminder notices before ``starts_at`` were written (once per room).
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class RoomRsvp(Base):
    """A person who said they will come to a scheduled room (and wants its reminders)."""

    __tablename__ = "room_rsvps"

    room_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomParticipant(Base):
    """A person's place in a room; the row stays after they leave (role kept, removal kept)."""

    __tablename__ = "room_participants"
    __table_args__ = (Index("ix_room_participants_room_presence", "room_id", "presence"),)

    room_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # moderator | speaker | listener
    presence: Mapped[str] = mapped_column(String(16))  # in_room | left | removed
    hand_raised: Mapped[bool] = mapped_column(Boolean, default=False)
    muted: Mapped[bool] = mapped_column(Boolean, default=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The room's ``seq`` when they last came on stage (null for listeners): moderation passes
    # to the longest-standing speaker, the one with the smallest number.
    on_stage_seq: Mapped[int | None] = mapped_column(BigInteger, default=None)


class RoomInvite(Base):
    """A person a moderator invited into a room (needed to enter social and closed rooms)."""

    __tablename__ = "room_invites"

    room_id: Mapped[str] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    invited_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModerationAction(Base):
    """One entry of a room's moderation log; ``actor_id`` is null for automatic actions."""

    __tablename__ = "room_moderation_log"

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    actor_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
