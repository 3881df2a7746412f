"""A real app served through starlette's TestClient, which speaks WebSocket (httpx's ASGI
transport does not); its lifespan, database and bus run on the client's own event loop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient, WebSocketTestSession

from conftest import Clock
from factories import Person
from mitalk.app import create_app
from mitalk.core.settings import Settings
from mitalk.realtime.bus import EventBus
from rooms.kit import make_members


class Closed(Exception):
    """The server closed the socket."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code, self.reason = code, reason


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> dict[str, Any]:
    """The next JSON message, or ``Closed``; fails instead of hanging when nothing comes."""

    async def get() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(get)
    if message["type"] == "websocket.close":
        raise Closed(message.get("code", 1000), message.get("reason", ""))
    data: dict[str, Any] = json.loads(message["text"])
    return data


def nothing_more(ws: WebSocketTestSession, wait: float = 0.3) -> None:
    """Assert that no message arrives for a moment."""
    try:
        message = receive(ws, wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {message}")


@dataclass
class Live:
    """The app, a client for it, and helpers that run on its loop."""

    app: FastAPI
    http: TestClient

    @property
    def bus(self) -> EventBus:
        bus: EventBus = self.app.state.bus
        return bus

    def members(self, count: int) -> list[Person]:
        return self.http.portal.call(make_members, self.app.state.db, count)  # type: ignore[union-attr]

    def ok(self, person: Person, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/api/v1{path}", json=body, headers=person.headers)
        assert response.status_code < 300, response.text
        return None if response.status_code == 204 else response.json()

    def socket(
        self, room_id: str, person: Person | None, query: str = "", header: bool = False
    ) -> WebSocketTestSession:
        params = [query] if query else []
        headers = {}
        if person is not None and header:
            headers = person.headers
        elif person is not None:
            params.append(f"token={person.token}")
        url = f"/api/v1/rooms/{room_id}/ws" + ("?" + "&".join(params) if params else "")
        return self.http.websocket_connect(url, headers=headers)

    def publish(self, event: Any) -> None:
        self.http.portal.call(self.bus.publish, event)  # type: ignore[union-attr]


@pytest.fixture
def live(settings: Settings, clock: Clock) -> Iterator[Live]:
    """The app with a short gap timeout, served on the TestClient's loop."""
    settings.realtime_gap_timeout_seconds = 0.3
    app = create_app(settings, clock=clock)
    with TestClient(app) as http:
        yield Live(app, http)
