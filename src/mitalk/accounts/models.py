"""Tables of accounts: users, one-time sign-in codes, sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mitalk.core.database import Base, UTCDateTime, utcnow
from mitalk.core.security import new_id

USER_AGENT_LENGTH = 200


class User(Base):
    """An account, keyed by an E.164 phone number."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(16))  # "active" | "waitlisted"
    invites_left: Mapped[int] = mapped_column(Integer, default=0)
    # How the account got in: staff, invite, drop, window, open (null while waitlisted).
    admitted_via: Mapped[str | None] = mapped_column(String(16), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    # The language notices and text messages are written in (core.messages.LANGUAGES): chosen
    # in the app, else the browser's Accept-Language at sign-in; None: English.
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    # A suspension by staff (None: none): no sign-in, no session, no room until it ends
    # (``suspended_until``; None: until lifted). The reason is staff's, never shown to others.
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_reason: Mapped[str | None] = mapped_column(String(200), default=None)
    suspended_by: Mapped[str | None] = mapped_column(String(24), default=None)


class LoginCode(Base):
    """One sign-in code, texted for one request, stored only as a keyed hash.

    A number may have several live codes (one per request): asking for a code never replaces
    someone else's. The requester gets a ticket (stored hashed) that binds the code to them:
    guesses that bring the ticket spend ``attempts``, guesses without it (scripts that send only
    phone and code, or a stranger) spend ``stranger_attempts`` of the number's newest code, so a
    stranger cannot use up the tries of the code its owner is typing.
    """

    __tablename__ = "login_codes"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    phone: Mapped[str] = mapped_column(String(16), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    ticket_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    stranger_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AuthSession(Base):
    """A signed-in device: an opaque bearer token, stored hashed."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # What signed in (the User-Agent, cut short), so the sessions list can tell devices apart.
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_LENGTH), default=None)
