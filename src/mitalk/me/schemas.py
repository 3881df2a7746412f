"""API models of sign-in and the account, and the messages of the account socket."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mitalk.network.schemas import ProfileOut

Language = Literal["en", "de", "zh-Hans", "zh-Hant"]


class CodeRequest(BaseModel):
    """A phone number as people type it: spaces, dashes and brackets are fine."""

    phone: str = Field(max_length=64, examples=["+49 151 2345 6789"])


class CodeSentOut(BaseModel):
    """A code is on its way to ``phone`` (E.164)."""

    phone: str
    expires_in: int = Field(description="Seconds the code works for.")
    resend_in: int = Field(description="Seconds before another code may be asked for.")
    ticket: str = Field(
        description="Send it back with the code (POST /auth/verify or /auth/session): the code "
        "is then checked with tries of its own that nobody without the ticket can use up."
    )


class VerifyRequest(BaseModel):
    """The number and the 6-digit code it received."""

    phone: str = Field(max_length=64)
    code: str = Field(max_length=16, examples=["123456"])
    ticket: str | None = Field(
        default=None,
        max_length=64,
        description="The ticket POST /auth/code answered. Without it the number's newest code "
        "is checked, with the tries of everyone who does not hold its ticket.",
    )


class WaitlistOut(BaseModel):
    """A waitlister's place (1 is next) and how many wait."""

    position: int
    total: int


class AccountOut(BaseModel):
    """The signed-in account."""

    id: str
    phone: str
    status: Literal["active", "waitlisted"]
    is_staff: bool
    invites_left: int
    waitlist: WaitlistOut | None
    profile: ProfileOut
    language: Language | None = Field(
        default=None, description="What notices and text messages are written in (None: en)."
    )


class LanguageIn(BaseModel):
    """The language to write your notices and text messages in."""

    model_config = ConfigDict(extra="forbid")

    language: Language


class SessionOut(BaseModel):
    """A place where the account is signed in."""

    id: str
    created_at: dt.datetime = Field(description="When it signed in.")
    expires_at: dt.datetime = Field(description="When it ends unless signed out before.")
    device: str | None = Field(description="The User-Agent it signed in with, cut short.")
    current: bool = Field(description="Whether this is the session of the asking request.")


class SessionsOut(BaseModel):
    """Every live session of the account, newest first."""

    sessions: list[SessionOut]


class WebSessionOut(BaseModel):
    """A web session: its token is in the HttpOnly ``mitalk_session`` cookie, never in the body."""

    account: AccountOut
    csrf_token: str = Field(
        description="Send as X-CSRF-Token on state-changing requests (also the mitalk_csrf cookie)."
    )


class SignedInOut(BaseModel):
    """A bearer token for ``Authorization: Bearer …`` and the account it belongs to."""

    token: str
    account: AccountOut


# --- what the account socket (GET /api/v1/me/ws) sends ----------------------------------------


class _AccountMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HelloMessage(_AccountMessage):
    """First message: the account as ``GET /me`` shows it."""

    type: Literal["hello"] = "hello"
    account: dict[str, Any]


class AccountMessage(_AccountMessage):
    """The account changed (e.g. let in from the waitlist): here it is now."""

    type: Literal["account.changed"] = "account.changed"
    account: dict[str, Any]


class WaitlistPositionMessage(_AccountMessage):
    """A waitlister's place in line moved (a drop, a claim, someone let in)."""

    type: Literal["waitlist.position"] = "waitlist.position"
    position: int = Field(ge=1)
    total: int = Field(ge=0)


class WaitlistWindowMessage(_AccountMessage):
    """The claim window that matters now changed (opened, sold out, closed): GET /passes/window."""

    type: Literal["waitlist.window"] = "waitlist.window"
    window: dict[str, Any] | None


class HallwayChangedMessage(_AccountMessage):
    """Rooms started, ended or changed size: fetch the hallway again (sent at most every 2 s)."""

    type: Literal["hallway.changed"] = "hallway.changed"


class NetworkChangedMessage(_AccountMessage):
    """Someone started or stopped following you: open profiles and follower lists fetch again."""

    type: Literal["network.changed"] = "network.changed"


class NotificationMessage(_AccountMessage):
    """A new notice, as ``GET /notifications`` lists it, and the unread count now."""

    type: Literal["notification.new"] = "notification.new"
    notification: dict[str, Any]
    unread: int = Field(ge=0)


class NotificationsReadMessage(_AccountMessage):
    """Your notices up to ``up_to`` were marked read (here or on another device)."""

    type: Literal["notification.read"] = "notification.read"
    up_to: int = Field(ge=0)
    unread: int = Field(ge=0)


class AccountPongMessage(_AccountMessage):
    """The answer to ``{"type": "ping"}``."""

    type: Literal["pong"] = "pong"


class PassClaimResultMessage(_AccountMessage):
    """The answer to ``{"type": "pass.claim"}``: a claim of a pass over the open socket.

    ``result`` is ``granted`` (repeating the claim answers the same), ``sold_out``, ``closed`` (no
    window is open), ``already_member``, ``not_eligible`` (the account was made after the window
    was announced), ``rate_limited`` (with ``retry_after`` seconds) or ``error`` (with ``code``:
    something failed on the server; nothing was granted that was not said).
    """

    type: Literal["pass.claim_result"] = "pass.claim_result"
    result: Literal[
        "granted", "sold_out", "closed", "already_member", "not_eligible", "rate_limited", "error"
    ]
    retry_after: int | None = None
    code: str | None = None


ACCOUNT_MESSAGES: tuple[type[BaseModel], ...] = (
    HelloMessage,
    AccountMessage,
    WaitlistPositionMessage,
    WaitlistWindowMessage,
    HallwayChangedMessage,
    NetworkChangedMessage,
    NotificationMessage,
    NotificationsReadMessage,
    AccountPongMessage,
    PassClaimResultMessage,
)
