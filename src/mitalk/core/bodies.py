"""Request bodies: a size limit and a read deadline for every HTTP request, before the app.

Every request body is read here, whole, before any route (and so any database transaction)
sees the request: a client that sends its body slowly holds only its own connection, never a
lock or a pooled connection. A body larger than its route's limit is refused with ``413`` as
soon as that is known (from ``Content-Length``, before reading a byte, else while it streams
in); one that has not arrived by the deadline is refused with ``408``. Both answers close the
connection, so the rest of the body is never read.

Upload routes (the avatar) get a larger limit and a longer deadline, and are streamed through
instead of read here: the route first checks who is calling (without a transaction), then
reads the body through the same limit and deadline, and only then opens its transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mitalk.core.errors import AppError

# Any JSON body of the API fits (a 64,000-character SDP, JSON-escaped, is the largest); the
# contacts upload and the avatar have rules of their own (app.py).
JSON_BODY_MAX_BYTES = 128 * 1024


class BodyTooLarge(AppError):
    status, code = 413, "body_too_large"
    message = "The request body is too large."


class BodyTimeout(AppError):
    status, code = 408, "body_timeout"
    message = "The request body did not arrive in time."


@dataclass(frozen=True)
class BodyRule:
    """How large a body may be and how long it may take to arrive, in bytes and seconds."""

    max_bytes: int
    timeout: float
    streamed: bool = False  # the route reads the body itself (through the same checks)
    too_large: type[AppError] | None = None  # the route's own error for a body past the limit


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def _expects_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return bool(value != b"0")
    return False


async def _refuse(send: Send, error: AppError) -> None:
    body = json.dumps({"error": {"code": error.code, "message": error.message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestBodyGuard:
    """Reads every HTTP request body within its route's size limit and deadline (see above)."""

    def __init__(
        self, app: ASGIApp, *, default: BodyRule, routes: Mapping[str, BodyRule] | None = None
    ) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.routes.get(scope["path"], self.default)
        declared = _declared_length(scope)
        if declared is not None and declared > rule.max_bytes:
            # Answered before reading a byte; a client that sent "Expect: 100-continue" is
            # never told to go on.
            await _refuse(send, _too_large(rule))
            return
        if not _expects_body(scope):
            await self.app(scope, receive, send)
            return
        body = _GuardedBody(receive, rule)
        if rule.streamed:

            async def send_closing_if_unread(message: Message) -> None:
                # Answered before the whole body came (an error, a refusal): close the
                # connection afterwards instead of reading (and discarding) the rest.
                if message["type"] == "http.response.start" and not body.complete:
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
                await send(message)

            await self.app(scope, body.receive, send_closing_if_unread)
            return
        try:
            whole = await body.read_all()
        except AppError as refused:
            await _refuse(send, refused)
            return
        except _Disconnected:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()  # after the body: waits for the client to disconnect

        await self.app(scope, replay, send)


class _Disconnected(Exception):
    """The client went away before its body was complete."""


def _too_large(rule: BodyRule) -> AppError:
    if rule.too_large is not None:
        return rule.too_large()
    limit = rule.max_bytes
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    return BodyTooLarge(f"The request body is too large: at most {size} here.")


class _GuardedBody:
    """The request's ``receive``, counting bytes against the limit and the clock."""

    def __init__(self, receive: Receive, rule: BodyRule) -> None:
        self._receive = receive
        self._rule = rule
        self._deadline = asyncio.get_running_loop().time() + rule.timeout
        self.received = 0
        self.complete = False

    def _timed_out(self) -> BodyTimeout:
        return BodyTimeout(
            f"The request body did not arrive within {self._rule.timeout:g} seconds."
        )

    def _count(self, message: Message) -> None:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self._rule.max_bytes:
                raise _too_large(self._rule)
            if not message.get("more_body", False):
                self.complete = True

    async def receive(self) -> Message:
        """One message, within what is left of the deadline (a streamed route's reads)."""
        if self.complete:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise self._timed_out() from None
        self._count(message)
        return message

    async def read_all(self) -> bytes:
        """The whole body, under one deadline for all of it (one timer per request)."""
        chunks: list[bytes] = []
        try:
            async with asyncio.timeout_at(self._deadline):
                while not self.complete:
                    message = await self._receive()
                    if message["type"] == "http.disconnect":
                        raise _Disconnected
                    self._count(message)
                    chunks.append(message.get("body", b""))
        except TimeoutError:
            raise self._timed_out() from None
        return b"".join(chunks)
