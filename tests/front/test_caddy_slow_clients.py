"""The managed Caddy holds clients to the API's head limits: it is what clients reach over
https, and it forwards a request only once its head is complete (a real `mitalk serve` with an
https public URL on loopback, Caddy's own local CA)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from front.test_https_settings import _settings
from live import free_port, live_server
from mitalk.front.caddy import caddyfile

HEADER_TIMEOUT = 2
WAIT = 30  # the longest a socket here waits (a bound, not a measurement)


def test_the_caddyfile_carries_the_head_limits(tmp_path: Path) -> None:
    text = caddyfile(_settings(tmp_path, public_url="https://talk.example.com"))
    assert "read_header 10s" in text and "max_header_size 64KiB" in text


def test_caddy_closes_half_open_requests(tmp_path: Path) -> None:
    https_port = free_port()
    with live_server(
        tmp_path / "data",
        MITALK_PUBLIC_URL=f"https://localhost:{https_port}",
        MITALK_HTTPS_ADDRESS="127.0.0.1",
        MITALK_HTTP_PORT=str(free_port()),
        MITALK_TLS_ISSUER="internal",
        MITALK_REQUEST_HEADER_TIMEOUT_SECONDS=str(HEADER_TIMEOUT),
    ):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # Caddy's local CA; the head limit is the point
        answers = []
        for _ in range(10):
            raw = socket.create_connection(("127.0.0.1", https_port), timeout=WAIT)
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
                received = b""
                try:
                    while chunk := tls.recv(4096):  # socket.timeout: never closed
                        received += chunk
                except (ConnectionResetError, ssl.SSLError):
                    pass
                answers.append(received)
        # Closed (Caddy answers 408 or just closes), never left hanging.
        assert all(a == b"" or a.startswith(b"HTTP/1.1 408") for a in answers), answers
