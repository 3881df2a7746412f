"""uvicorn's HTTP/1.1 protocol with a deadline and a size limit for each request's head.

uvicorn has no timeout for a request that is still arriving: its keep-alive timer runs only
between requests and is reset by every byte, so a client that sends its headers one byte at a
time (slowloris), or connects and sends nothing, holds a connection for as long as it likes,
and an ASGI middleware cannot help because the app is called only once the head is complete.
Here every connection must deliver a request's line and headers within
``MITALK_REQUEST_HEADER_TIMEOUT_SECONDS`` of connecting (or of the request's first byte on a
kept-alive connection), and in at most ``HEAD_MAX_BYTES``; otherwise it is answered ``408``
(or ``400``) and closed. The body's limit and deadline are core/bodies.py's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mitalk.core.settings import get_settings

HEAD_MAX_BYTES = 64 * 1024  # the request line and every header together


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops, uvicorn answers 400 and closes."""


def _timeout_response() -> bytes:
    body = json.dumps(
        {"error": {"code": "header_timeout", "message": "The request's headers came too slowly."}}
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the head deadline and size limit described above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_timeout = get_settings().request_header_timeout_seconds
        self._head_deadline: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_deadline is None:  # a kept-alive connection's next request
            self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > HEAD_MAX_BYTES:
            raise HeadTooLarge(f"request head over {HEAD_MAX_BYTES} bytes")

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.write(_timeout_response())
            self.transport.close()
