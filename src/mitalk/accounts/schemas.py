"""API models of sign-in and the account."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from mitalk.network.schemas import ProfileOut


class CodeRequest(BaseModel):
    """A phone number as people type it: spaces, dashes and brackets are fine."""

    phone: str = Field(max_length=64, examples=["+49 151 2345 6789"])


class CodeSentOut(BaseModel):
    """A code is on its way to ``phone`` (E.164)."""

    phone: str
    expires_in: int = Field(description="Seconds the code works for.")
    resend_in: int = Field(description="Seconds before another code may be asked for.")


class VerifyRequest(BaseModel):
    """The number and the 6-digit code it received."""

    phone: str = Field(max_length=64)
    code: str = Field(max_length=16, examples=["123456"])


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


class WebSessionOut(BaseModel):
    """A web session: its token is in the HttpOnly ``mitalk_session`` cookie, never in the body."""

    account: AccountOut
    csrf_token: str = Field(description="Send as X-CSRF-Token on state-changing requests (also the mitalk_csrf cookie).")


class SignedInOut(BaseModel):
    """A bearer token for ``Authorization: Bearer …`` and the account it belongs to."""

    token: str
    account: AccountOut
