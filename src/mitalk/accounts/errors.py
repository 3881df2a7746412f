"""The errors of signing in: each with its HTTP status and stable code."""

from __future__ import annotations

import datetime as dt

from mitalk.core.errors import AppError


class InvalidPhone(AppError):
    status, code = 422, "invalid_phone"
    message = (
        "This is not a valid phone number. "
        "Enter it with + and the country code, e.g. +49 151 2345 6789."
    )


class NotMobile(AppError):
    status, code = 422, "phone_not_mobile"
    message = (
        "Sign-in codes go to mobile numbers only. This is a landline, premium-rate, toll-free, "
        "shared-cost, VoIP, pager, personal or satellite number: use your mobile number."
    )


class InvalidCode(AppError):
    status, code = 400, "invalid_code"
    message = "That code is wrong or has expired. Check it, or ask for a new one."
    commit_changes = True  # the attempt it used stays used


class TooManyAttempts(AppError):
    status, code = 429, "too_many_attempts"
    message = "Too many wrong codes. Ask for a new code."


class SessionNotFound(AppError):
    status, code = 404, "session_not_found"
    message = "You have no such session: it was signed out already, or it is not yours."


class AccountSuspended(AppError):
    status, code = 403, "account_suspended"
    message = "This account is suspended. If you think this is a mistake, write to the service."
    commit_changes = True  # the code it was checked with stays used

    def __init__(self, message: str | None = None, until: dt.datetime | None = None) -> None:
        super().__init__(message)
        self.details = {"until": until.astimezone(dt.UTC).isoformat()} if until else None
