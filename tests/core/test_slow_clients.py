"""Slow and oversized requests against a real `mitalk serve` (SQLite) on loopback.

Each test bounds how long it waits (socket timeouts) and how many connections it opens; none
asserts a duration. The deadlines are short here (set through the environment) so that the
tests finish soon; the defaults are in docs/security.md.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as connect_socket

from conftest import DATABASES, POSTGRES_URL
from factories import new_phone
from live import live_server, run_cli

HEADER_TIMEOUT = 2
BODY_TIMEOUT = 3
UPLOAD_TIMEOUT = 15
WAIT = 30  # the longest any socket here waits for the server (a bound, not a measurement)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("slow") / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    with live_server(
        data,
        MITALK_REQUEST_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
        MITALK_REQUEST_BODY_TIMEOUT_SECONDS=str(BODY_TIMEOUT),
        MITALK_UPLOAD_TIMEOUT_SECONDS=str(UPLOAD_TIMEOUT),
    ) as base:
        yield base, data


def sign_in(base: str, data: Path) -> str:
    """Sign a new number in over HTTP; returns its token."""
    phone = new_phone()
    response = httpx.post(f"{base}/api/v1/auth/code", json={"phone": phone}, timeout=10)
    assert response.status_code == 202, response.text
    lines = [json.loads(line) for line in (data / "sms-outbox.jsonl").read_text().splitlines()]
    body = [line for line in lines if line["to"] == phone][-1]["body"]
    code = re.search(r"\b\d{6}\b", body).group()  # type: ignore[union-attr]
    response = httpx.post(
        f"{base}/api/v1/auth/verify", json={"phone": phone, "code": code}, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (bounded by WAIT).

    A server that closes with bytes of ours still unread resets the connection; what it sent
    before is kept.
    """
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"]["code"]


def test_a_slow_avatar_upload_blocks_nobody(server: tuple[str, Path]) -> None:
    """An upload trickling in at 1 byte/s holds no lock: /healthz and signing in still answer
    while it arrives, and the upload itself is refused with 408 at its deadline."""
    base, data = server
    token = sign_in(base, data)
    boundary = "slowboundary"
    sock = connect(base)
    sock.sendall(
        (
            "PUT /api/v1/me/avatar HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            "Content-Length: 100000\r\n\r\n"
        ).encode()
    )
    stop = threading.Event()

    def trickle() -> None:
        # One byte a second until told to stop or refused (at most WAIT bytes).
        for byte in f"--{boundary}\r\n".encode().ljust(WAIT, b"x"):
            if stop.wait(1):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return

    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        stop.wait(1.5)  # the upload has begun: before the fix its transaction held the lock
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        sign_in(base, data)  # writes: a code, an account, a session
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                       timeout=10)
        assert me.status_code == 200
        stop.set()
        sender.join()
        answer = read_answer(sock)  # the server ends the upload at its deadline
    finally:
        stop.set()
        sender.join()
        sock.close()
    assert status_and_code(answer) == (408, "body_timeout")
    assert b"connection: close" in answer.lower()


def test_half_open_requests_are_closed_and_the_service_keeps_answering(
    server: tuple[str, Path],
) -> None:
    """100 connections with half a request head, 20 silent ones and 20 with half a body are
    each answered and closed at their deadline; the service answers throughout."""
    base, _ = server
    heads, silent, bodies = [], [], []
    try:
        for _ in range(100):
            sock = connect(base)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            heads.append(sock)
        silent.extend(connect(base) for _ in range(20))
        for _ in range(20):
            sock = connect(base)
            sock.sendall(
                b"POST /api/v1/auth/code HTTP/1.1\r\nHost: localhost\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"phone\""
            )
            bodies.append(sock)
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        for sock in heads + silent:
            answer = read_answer(sock)  # a socket.timeout here means it was never closed
            assert status_and_code(answer) == (408, "header_timeout")
        for sock in bodies:
            assert status_and_code(read_answer(sock)) == (408, "body_timeout")
    finally:
        for sock in heads + silent + bodies:
            sock.close()
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


def test_an_endless_request_head_is_refused(server: tuple[str, Path]) -> None:
    """Headers past 64 KiB are refused with 400 and the connection closed (a reset, when the
    server closed with some of them unread, is a refusal too)."""
    base, _ = server
    with connect(base) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        try:
            for n in range(70):
                sock.sendall(f"X-Filler-{n}: {'a' * 1000}\r\n".encode())
            sock.sendall(b"\r\n")
        except OSError:
            pass  # the server closed while we were still sending: refused
        answer = read_answer(sock)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer[:100]


def test_a_huge_body_is_refused_before_it_is_read(server: tuple[str, Path]) -> None:
    """A 300 MB JSON body to /auth/code is answered 413 after its headers, without the rest;
    a chunked body with no length is cut off once past the limit."""
    base, _ = server
    with connect(base) as sock:
        sock.sendall(
            b"POST /api/v1/auth/code HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n{\"phone\": \""
        )
        answer = read_answer(sock)
    assert status_and_code(answer) == (413, "body_too_large")
    with connect(base) as sock:
        sock.sendall(
            b"POST /api/v1/auth/code HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * 16384
        for _ in range(9):  # 144 KiB: past the 128 KiB limit, and no more than that
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = read_answer(sock)
    assert status_and_code(answer) == (413, "body_too_large")
    assert httpx.post(f"{base}/api/v1/auth/code", json={"phone": new_phone()},
                      timeout=10).status_code == 202


def test_a_socket_message_past_64_kib_closes_the_socket(server: tuple[str, Path]) -> None:
    """Clients send small actions and pings on their sockets; uvicorn would take 16 MiB."""
    base, data = server
    token = sign_in(base, data)
    url = base.replace("http://", "ws://") + "/api/v1/me/ws"
    with connect_socket(
        url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=WAIT,
        max_size=None,
    ) as socket_:
        socket_.recv(timeout=WAIT)  # the hello
        socket_.send('{"type": "ping", "pad": "' + "x" * 100_000 + '"}')
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(100):
                socket_.recv(timeout=WAIT)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.mark.parametrize("database", DATABASES)
def test_stalled_uploads_hold_no_database_connection(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """40 avatar uploads that stall after their first bytes, more than the PostgreSQL pool's
    30 connections: sign-in, /me and /healthz still answer (each upload used to hold a
    transaction, so a pooled connection or SQLite's write lock, while its body did not come)."""
    extra = {}
    if database == "postgres":
        request.getfixturevalue("postgres_ready")  # migrated, like every PostgreSQL test
        extra["MITALK_DATABASE_URL"] = POSTGRES_URL
    data = tmp_path / "data"
    assert run_cli(data, "admin", "phase", "open", **extra).returncode == 0
    with live_server(data, MITALK_UPLOAD_TIMEOUT_SECONDS=str(WAIT * 2), **extra) as base:
        token = sign_in(base, data)
        stalled = []
        try:
            for _ in range(40):
                sock = connect(base)
                sock.sendall(
                    (
                        "PUT /api/v1/me/avatar HTTP/1.1\r\nHost: localhost\r\n"
                        f"Authorization: Bearer {token}\r\n"
                        "Content-Type: multipart/form-data; boundary=b\r\n"
                        "Content-Length: 50000\r\n\r\n--b\r\n"
                    ).encode()
                )
                stalled.append(sock)
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            sign_in(base, data)
            me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                           timeout=10)
            assert me.status_code == 200
        finally:
            for sock in stalled:
                sock.close()
