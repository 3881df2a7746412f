"""Prometheus metrics of HTTP requests, as a plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("mitalk_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("mitalk_http_request_seconds", "HTTP request latency", ["route"])


class MetricsMiddleware:
    """Counts requests per route and status and records their latency."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router records the matched route in the shared scope: label by its template,
            # never by the raw path (ids would explode the label set).
            route: Any = scope.get("route")
            template = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], template, str(status)).inc()
            LATENCY.labels(template).observe(time.perf_counter() - started)
