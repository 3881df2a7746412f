"""The web client's session: an HttpOnly cookie, CSRF-checked state changes, cookie WebSockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from conftest import Clock
from factories import in_transaction, last_code, new_phone, set_phase
from mitalk.access import service as access
from mitalk.app import create_app
from mitalk.core.database import utcnow
from mitalk.core.settings import Settings
from realtime.conftest import Closed, Live, receive

ORIGIN = "http://testserver"


def web_sign_in(http: TestClient, outbox: Path) -> tuple[str, dict[str, str]]:
    """Sign in the way the web client does; the client keeps the cookies."""
    phone = new_phone()
    assert http.post("/api/v1/auth/code", json={"phone": phone}).status_code == 202
    response = http.post(
        "/api/v1/auth/session", json={"phone": phone, "code": last_code(outbox, phone)}
    )
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


def test_the_cookie_signs_in_and_state_changes_need_the_csrf_header(
    opened: Live, outbox: Path
) -> None:
    http = opened.http
    user_id, csrf = web_sign_in(http, outbox)
    assert http.get("/api/v1/me").json()["id"] == user_id  # reads need only the cookie

    refused = http.patch("/api/v1/me/profile", json={"name": "Ada"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    forged = http.patch(
        "/api/v1/me/profile", json={"name": "Ada"}, headers={"X-CSRF-Token": "0" * 64}
    )
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


def test_over_https_the_cookies_carry_the_host_prefix(
    settings: Settings, clock: Clock, outbox: Path
) -> None:
    """``__Host-`` cookies: Secure, path /, no Domain, so no subdomain or http page can plant
    one; the bare names are neither set nor read there."""
    settings.public_url = "https://talk.mitalk.test"
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="https://testserver") as http:
        http.portal.call(set_phase, app.state.db, "open")  # type: ignore[union-attr]
        phone = new_phone()
        assert http.post("/api/v1/auth/code", json={"phone": phone}).status_code == 202
        response = http.post(
            "/api/v1/auth/session", json={"phone": phone, "code": last_code(outbox, phone)}
        )
        assert response.status_code == 200, response.text
        cookies = response.headers.get_list("set-cookie")
        assert sorted(c.split("=")[0] for c in cookies) == [
            "__Host-mitalk_csrf", "__Host-mitalk_session"
        ]
        for cookie in cookies:
            attributes = [a.strip().lower() for a in cookie.split(";")[1:]]
            assert "secure" in attributes and "path=/" in attributes, cookie
            assert not any(a.startswith("domain") for a in attributes), cookie
        csrf = {"X-CSRF-Token": response.json()["csrf_token"]}
        account_id = response.json()["account"]["id"]
        assert http.get("/api/v1/me").json()["id"] == account_id
        # A planted bare-named cookie (another session's) is not read over https.
        token = http.cookies["__Host-mitalk_session"]
        bare = TestClient(app, base_url="https://testserver", cookies={"mitalk_session": token})
        assert bare.get("/api/v1/me").status_code == 401
        # The test client speaks ws: (never wss:) and keeps Secure cookies from it: the cookie
        # goes by hand, with the Origin a ws: handshake matches.
        handshake = {"Origin": "http://testserver", "Cookie": f"__Host-mitalk_session={token}"}
        with http.websocket_connect("/api/v1/me/ws", headers=handshake) as ws:
            first = receive(ws)
            assert first["type"] == "hello", first
        # Signing out clears the prefixed cookies (a __Host- deletion must be Secure too).
        out = http.post("/api/v1/auth/logout", headers=csrf)
        assert out.status_code == 204
        cleared = out.headers.get_list("set-cookie")
        assert all("secure" in c.lower() and "max-age=0" in c.lower() for c in cleared)
        assert sorted(c.split("=")[0] for c in cleared) == [
            "__Host-mitalk_csrf", "__Host-mitalk_session"
        ]
        assert "__Host-mitalk_session" not in http.cookies


def test_a_claim_with_the_cookie_needs_the_csrf_header(live: Live, outbox: Path) -> None:
    """The claim route reads the session itself (the rush's hot path): the same rules hold."""
    http = live.http
    http.portal.call(set_phase, live.app.state.db, "invite")  # type: ignore[union-attr]
    _, csrf = web_sign_in(http, outbox)
    http.portal.call(  # type: ignore[union-attr]
        in_transaction, live.app.state.db, lambda s: access.open_window(s, 2, utcnow())
    )
    refused = http.post("/api/v1/passes/claim")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    forged = http.post("/api/v1/passes/claim", headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    granted = http.post("/api/v1/passes/claim", headers=csrf)
    assert granted.status_code == 200 and granted.json() == {"status": "granted"}
    http.cookies.clear()
    assert http.post("/api/v1/passes/claim", headers=csrf).status_code == 401
