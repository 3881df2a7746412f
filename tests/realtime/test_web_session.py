"""The web client's session: an HttpOnly cookie, CSRF-checked state changes, cookie WebSockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from factories import last_code, new_phone
from realtime.conftest import Closed, Live, receive

ORIGIN = "http://testserver"


def web_sign_in(http: TestClient, outbox: Path) -> tuple[str, dict[str, str]]:
    """Sign in the way the web client does; the client keeps the cookies."""
    phone = new_phone()
    assert http.post("/api/v1/auth/code", json={"phone": phone}).status_code == 202
    response = http.post("/api/v1/auth/session", json={"phone": phone, "code": last_code(outbox, phone)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "token" not in body  # the session never reaches the page's scripts
    cookies = response.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith("mitalk_session="))
    csrf_cookie = next(c for c in cookies if c.startswith("mitalk_csrf="))
    assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
    assert "HttpOnly" not in csrf_cookie and "samesite=strict" in csrf_cookie.lower()
    assert "Secure" not in session_cookie  # plain http here; "auto" sets Secure under https
    assert http.cookies["mitalk_csrf"] == body["csrf_token"]
    return body["account"]["id"], {"X-CSRF-Token": body["csrf_token"]}


@pytest.fixture
def opened(live: Live) -> Live:
    from factories import set_phase

    live.http.portal.call(set_phase, live.app.state.db, "open")  # type: ignore[union-attr]
    return live


def test_the_cookie_signs_in_and_state_changes_need_the_csrf_header(opened: Live, outbox: Path) -> None:
    http = opened.http
    user_id, csrf = web_sign_in(http, outbox)
    assert http.get("/api/v1/me").json()["id"] == user_id  # reads need only the cookie

    refused = http.patch("/api/v1/me/profile", json={"name": "Ada"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    forged = http.patch("/api/v1/me/profile", json={"name": "Ada"}, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    assert http.get("/api/v1/me").json()["profile"]["name"] == ""  # nothing changed

    saved = http.patch("/api/v1/me/profile", json={"name": "Ada"}, headers=csrf)
    assert saved.status_code == 200 and saved.json()["name"] == "Ada"
    room = http.post("/api/v1/rooms", json={"title": "Cookies"}, headers=csrf)
    assert room.status_code == 201


def test_a_csrf_token_of_another_session_does_not_pass(opened: Live, outbox: Path) -> None:
    _, first_csrf = web_sign_in(opened.http, outbox)
    _, _second = web_sign_in(opened.http, outbox)  # the client now holds the second session
    response = opened.http.post("/api/v1/rooms", json={"title": "x"}, headers=first_csrf)
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"


def test_logout_ends_the_session_and_clears_the_cookies(opened: Live, outbox: Path) -> None:
    http = opened.http
    _, csrf = web_sign_in(http, outbox)
    token = http.cookies["mitalk_session"]
    assert http.post("/api/v1/auth/logout").status_code == 403  # CSRF applies to logout too
    response = http.post("/api/v1/auth/logout", headers=csrf)
    assert response.status_code == 204
    assert "mitalk_session" not in http.cookies and "mitalk_csrf" not in http.cookies
    # The old token is dead even if someone kept it.
    again = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


def test_bearer_clients_need_no_csrf_header(live: Live) -> None:
    (person,) = live.members(1)
    response = live.http.post("/api/v1/rooms", json={"title": "Bots"}, headers=person.headers)
    assert response.status_code == 201


def test_a_room_socket_takes_the_cookie_only_from_this_origin(opened: Live, outbox: Path) -> None:
    http = opened.http
    _, csrf = web_sign_in(http, outbox)
    room = http.post("/api/v1/rooms", json={"title": "Sockets"}, headers=csrf).json()
    url = f"/api/v1/rooms/{room['id']}/ws"
    with http.websocket_connect(url, headers={"Origin": ORIGIN}) as ws:
        assert receive(ws)["type"] == "snapshot"
    for origin in ("http://evil.example", "https://testserver", None):
        headers = {"Origin": origin} if origin else {}
        with http.websocket_connect(url, headers=headers) as ws:
            assert receive(ws)["error"]["code"] == "not_authenticated", origin
            with pytest.raises(Closed) as closed:
                receive(ws)
        assert closed.value.code == 4401, origin
