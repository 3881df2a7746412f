"""One error type with an HTTP status and a stable machine-readable code, and its renderer."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = structlog.get_logger(__name__)


class AppError(Exception):
    """An expected failure: rendered as ``{"error": {"code", "message"}}`` with ``status``."""

    status: int = 400
    code: str = "bad_request"
    message: str = "The request could not be served."
    # Set on errors whose request must still commit (e.g. a wrong code uses up an attempt).
    commit_changes: bool = False
    # More fields of the error object, for clients to word it (ErrorBody lists them).
    details: dict[str, Any] | None = None

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        self.headers = headers or {}
        super().__init__(self.message)


class NotAuthenticated(AppError):
    status, code, message = 401, "not_authenticated", "Sign in first: this needs a valid token."


class NotActive(AppError):
    status, code = 403, "not_active"
    message = "Your account is on the waitlist: this opens once you are let in."


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "You may not do this."


class CsrfFailed(AppError):
    status, code = 403, "csrf_failed"
    message = "This request needs the X-CSRF-Token header of your session (the mitalk_csrf cookie)."


class NotFound(AppError):
    status, code, message = 404, "not_found", "There is nothing here."


class Conflict(AppError):
    status, code, message = 409, "conflict", "This conflicts with the current state."


class RateLimited(AppError):
    status, code = 429, "rate_limited"
    message = "Too many requests. Try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message or f"Too many requests. Try again in {self.retry_after} seconds.",
            headers={"Retry-After": str(self.retry_after)},
        )


class ErrorBody(BaseModel):
    """The error object: a stable ``code`` to branch on and a ``message`` for people."""

    code: str
    message: str
    until: str | None = Field(
        default=None,
        description="When the refusal ends (ISO 8601, UTC), where it ends: `account_suspended`.",
    )


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: ErrorBody


def error_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """Declare an endpoint's error answers so they appear in OpenAPI."""
    by_status: dict[int, list[type[AppError]]] = {}
    for err in errors:
        by_status.setdefault(err.status, []).append(err)
    return {
        status: {
            "model": ErrorResponse,
            "description": "; ".join(f"`{e.code}`: {e.message}" for e in errs),
        }
        for status, errs in by_status.items()
    }


def _render(
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **(details or {})}},
        status_code=status,
        headers=headers,
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            return "The request body is not valid JSON."
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "The request is not valid. " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, expected or not, in the one shape API.md promises."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return _render(exc.status, exc.code, exc.message, exc.headers, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _render(422, "invalid_request", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return _render(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # PostgreSQL cannot hold or compare text with a NUL character (SQLSTATE 22021), and any
        # id in a path, query or body may carry one: that is bad input, not our failure.
        if getattr(exc.orig, "sqlstate", None) == "22021":
            return _render(422, "invalid_text", "Text may not contain NUL characters.")
        raise exc  # anything else is unexpected: rendered (and logged) as below

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        return _render(500, "internal_error", "Something went wrong on our side. Try again.")
