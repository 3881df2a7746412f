"""Tables of the professional network: profiles, avatars, follows, connections, blocks,
room visits (who met whom), contact cards and uploaded contact hashes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow
from mitalk.core.security import new_id

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigSerial = BigInteger().with_variant(Integer(), "sqlite")


class Profile(Base):
    """What a person shows others; never their phone number."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
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
    # Topics of interest (onboarding asks for them): they rank the hallway and suggest people.
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What the owner's contact card carries besides the public profile (PUT /me/card): an
    # email, the profile's links, and the account's phone number only by explicit choice.
    card_email: Mapped[str] = mapped_column(String(254), default="")
    card_share_links: Mapped[bool] = mapped_column(Boolean, default=False)
    card_share_phone: Mapped[bool] = mapped_column(Boolean, default=False)
    # Content hash of the current avatar (its bytes live in ``avatars``); null when none.
    avatar_hash: Mapped[str | None] = mapped_column(String(16), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def avatar_url(self) -> str | None:
        """Where the avatar is served; its hash changes with the image, so it caches forever."""
        return avatar_url(self.user_id, self.avatar_hash)


def avatar_url(user_id: str, avatar_hash: str | None) -> str | None:
    """The stable URL of a person's avatar (None when they have none)."""
    return f"/api/v1/avatars/{user_id}/{avatar_hash}.webp" if avatar_hash else None


class Avatar(Base):
    """A person's avatar, already re-encoded (256x256 WebP, no metadata) by the server.

    Stored in the database rather than the data dir: it is the one store every API node shares
    (SQLite embedded, PostgreSQL at scale), and at ~10-20 KB per image it costs little.
    """

    __tablename__ = "avatars"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Follow(Base):
    """One person follows another (one-way, no consent needed)."""

    __tablename__ = "follows"

    follower_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    followee_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Connection(Base):
    """A connection between two people: a pending request, or accepted (then they are contacts).

    One row per pair whichever way it was asked: ``pair_key`` is the two ids in sorted order,
    unique, so two crossing requests cannot both be stored.
    """

    __tablename__ = "connections"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    requester_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    addressee_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    pair_key: Mapped[str] = mapped_column(String(49), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # pending | accepted
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


def pair_key(a: str, b: str) -> str:
    """The order-free key of two people."""
    return ":".join(sorted((a, b)))


class Block(Base):
    """One person blocked another: they disappear from each other's network and rooms."""

    __tablename__ = "blocks"

    blocker_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    blocked_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoomVisit(Base):
    """One stay of a person in a room, from joining to leaving (``left_at`` null while there).

    "People you met" are those whose stays overlap yours: one row written per join and one
    update per leave, so a room of n people costs O(n) rows, not O(n^2) encounter pairs.
    """

    __tablename__ = "room_visits"
    __table_args__ = (Index("ix_room_visits_room_user", "room_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigSerial, primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class ContactCard(Base):
    """A card offered to someone met in a room; accepting it connects the two."""

    __tablename__ = "contact_cards"
    __table_args__ = (
        UniqueConstraint("sender_id", "recipient_id", "room_id", name="uq_contact_cards_offer"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    sender_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    recipient_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    room_id: Mapped[str] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending | accepted | declined
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)


class ContactHash(Base):
    """A number of a member's uploaded contact list, only as HMAC(secret key, SHA-256 of E.164)."""

    __tablename__ = "contact_hashes"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class ContactUpload(Base):
    """One accepted contact upload: when, and how many numbers were new to the list then.

    Only counts: what limits uploads (per day, new numbers per 30 days), no numbers.
    """

    __tablename__ = "contact_uploads"
    __table_args__ = (Index("ix_contact_uploads_user_at", "user_id", "uploaded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    added: Mapped[int] = mapped_column(Integer)


class PhoneDigest(Base):
    """The same keyed hash of an account's own number, to match uploaded contacts by equality.

    Kept only for an account that asked to be found by members who have its number
    (``PUT /me/contacts/findable``); without one, no upload or invite ever lists it.
    """

    __tablename__ = "phone_digests"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(64), index=True)
