"""Strict-Transport-Security on every answer given over https.

In the app rather than in the Caddyfile so that it holds whoever terminates TLS (the managed
Caddy, or an operator's proxy with MITALK_TLS=external): the app sees https through
``X-Forwarded-Proto`` from a trusted proxy either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HstsMiddleware:
    """Add ``Strict-Transport-Security: max-age=N`` to https responses (N > 0)."""

    def __init__(self, app: ASGIApp, max_age: int) -> None:
        self.app = app
        self.header = (b"strict-transport-security", f"max-age={max_age}".encode())
        self.enabled = max_age > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_with_hsts)
