"""HTTPS on the test internet: `mitalk serve` with an https MITALK_PUBLIC_URL runs Caddy in front.

The server host serves https://talk.mitalk.test on its first address (TCP 443, the only port the
office passes; 80 for the redirect), with a certificate of a CA made for this run; the API stays
on the server's loopback. Clients on the office and home hosts reach it through the NATs and
firewalls: curl (``--resolve`` pins the name to the server's address, ``--cacert`` trusts the
run's CA) and a WebSocket client in the office host. Nothing ignores certificate errors: curl
with only the system's roots must refuse the certificate.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

import netlab
from certs import TestCA
from live import MITALK, mitalk_env, run_cli

NAME = netlab.SERVER_NAME
PUBLIC_URL = f"https://{NAME}"


@dataclass
class HttpsSite:
    """`mitalk serve` behind its managed Caddy on the server host."""

    host: netlab.Host
    ca: TestCA
    data_dir: Path
    log: Path

    def curl(
        self, client: netlab.Host, *args: str, trust: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """curl on ``client``, with the name pinned to the server's address (ports 80 and 443)."""
        argv = ["curl", "-sS", "-i", "--max-time", "10"]
        argv += [
            "--resolve",
            f"{NAME}:443:{self.host.public}",
            "--resolve",
            f"{NAME}:80:{self.host.public}",
        ]
        if trust:
            argv += ["--cacert", str(self.ca.ca_file)]
        return subprocess.run(
            client.command(*argv, *args), capture_output=True, text=True, timeout=30, check=False
        )


def _status(output: str) -> int:
    match = re.match(r"HTTP/[\d.]+ (\d{3})", output)
    assert match, output[:300]
    return int(match.group(1))


def _headers(output: str) -> dict[str, list[str]]:
    head = output.split("\n\n", 1)[0]  # text mode: curl's CRLFs read as LFs
    headers: dict[str, list[str]] = {}
    for line in head.split("\n")[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return headers


def _body(output: str) -> str:
    return output.split("\n\n", 1)[1]


@pytest.fixture(scope="module")
def https_site(
    net: netlab.Internet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HttpsSite]:
    """`mitalk serve` with MITALK_PUBLIC_URL=https://talk.mitalk.test on the server host."""
    folder = tmp_path_factory.mktemp("https")
    ca = TestCA(folder / "ca")
    certificate = ca.issue("talk", [NAME])
    data = folder / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    env = mitalk_env(
        data,
        MITALK_PUBLIC_URL=PUBLIC_URL,
        MITALK_HTTPS_ADDRESS=net.server.address,  # the second address stays free for TURN/TLS
        MITALK_TLS_CERT=str(certificate.chain_file),
        MITALK_TLS_KEY=str(certificate.key_file),
        MITALK_CODES_PER_ADDRESS_PER_HOUR="1000",
        MITALK_CODE_REQUESTS_PER_ADDRESS_PER_HOUR="1000",
        MITALK_VERIFIES_PER_ADDRESS_PER_HOUR="1000",
    )
    log_path = folder / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            net.server.command(*MITALK, "serve", "--host", "127.0.0.1", "--port", "8000"),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    site = HttpsSite(net.server, ca, data, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"mitalk serve exited: {log_path.read_text()[-3000:]}", pytrace=False)
            answer = site.curl(net.server, f"{PUBLIC_URL}/healthz")
            if answer.returncode == 0 and _status(answer.stdout) == 200:
                break
            if time.monotonic() > deadline:
                caddy_log = data / "caddy" / "caddy.log"
                pytest.fail(
                    f"https not healthy: {answer.stderr}\n{log_path.read_text()[-2000:]}\n"
                    f"{caddy_log.read_text()[-2000:] if caddy_log.exists() else ''}",
                    pytrace=False,
                )
            time.sleep(0.2)
        yield site
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # The managed Caddy went with the service.
    assert "caddy" not in net.server.sh("ss", "-Hltnp"), "Caddy outlived mitalk serve"


def test_the_office_reaches_https_with_hsts_and_only_with_the_ca_trusted(
    net: netlab.Internet, https_site: HttpsSite
) -> None:
    answer = https_site.curl(net.office, f"{PUBLIC_URL}/healthz")
    assert answer.returncode == 0, answer.stderr
    assert _status(answer.stdout) == 200
    headers = _headers(answer.stdout)
    assert headers["strict-transport-security"] == ["max-age=31536000"]
    assert json.loads(_body(answer.stdout))["status"] == "ok"
    # The web client's page comes over the same origin (and keeps its strict CSP).
    page = https_site.curl(net.office, f"{PUBLIC_URL}/")
    assert _status(page.stdout) == 200 and "content-security-policy" in _headers(page.stdout)

    refused = https_site.curl(net.office, f"{PUBLIC_URL}/healthz", trust=False)
    assert refused.returncode == 60, (
        refused.returncode,
        refused.stderr,
    )  # peer certificate not trusted


def test_plain_http_redirects_to_https(net: netlab.Internet, https_site: HttpsSite) -> None:
    # From home: the office firewall passes only 443, so port 80 is tried where it is open.
    answer = https_site.curl(net.home, f"http://{NAME}/rooms/abc?x=1")
    assert answer.returncode == 0, answer.stderr
    assert _status(answer.stdout) in (301, 308)
    assert _headers(answer.stdout)["location"] == [f"https://{NAME}/rooms/abc?x=1"]


def test_the_api_is_not_reachable_around_tls(net: netlab.Internet, https_site: HttpsSite) -> None:
    # The API listens on the server's loopback only: from home, port 8000 is closed.
    answer = subprocess.run(
        net.home.command("curl", "-sS", "--max-time", "5", f"http://{net.server.public}:8000/healthz"),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert answer.returncode == 7, answer  # could not connect


def _last_code(data_dir: Path, phone: str) -> str:
    for line in reversed((data_dir / "sms-outbox.jsonl").read_text().splitlines()):
        message = json.loads(line)
        if message["to"] == phone:
            return re.search(r"\b(\d{6})\b", message["body"]).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no code for {phone}")


def test_web_sign_in_sets_secure_cookies_and_the_socket_works_over_wss(
    net: netlab.Internet, https_site: HttpsSite
) -> None:
    from factories import new_phone

    phone = new_phone()
    sent = https_site.curl(
        net.office,
        "-H",
        "content-type: application/json",
        "-d",
        json.dumps({"phone": phone}),
        f"{PUBLIC_URL}/api/v1/auth/code",
    )
    assert _status(sent.stdout) == 202, sent.stdout
    code = _last_code(https_site.data_dir, phone)
    signed_in = https_site.curl(
        net.office,
        "-H", "content-type: application/json",
        "-d", json.dumps({"phone": phone, "code": code}),
        f"{PUBLIC_URL}/api/v1/auth/session",
    )  # fmt: skip
    assert _status(signed_in.stdout) == 200, signed_in.stdout
    cookies = _headers(signed_in.stdout)["set-cookie"]
    assert len(cookies) == 2
    for cookie in cookies:
        assert "; Secure" in cookie, cookie
    session = next(c for c in cookies if c.startswith("__Host-mitalk_session=")).split(";")[0]

    async def account_socket(origin: str) -> dict[str, object]:
        """The socket's first message."""
        context = ssl.create_default_context(cafile=str(https_site.ca.ca_file))
        # Connected to the server's address, spoken to as talk.mitalk.test (SNI, Host, checks).
        sock = socket.create_connection((https_site.host.public, 443), timeout=10)
        async with connect(
            f"wss://{NAME}/api/v1/me/ws",
            sock=sock,
            ssl=context,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": session},
            proxy=None,
        ) as websocket:
            return dict(json.loads(await websocket.recv()))

    hello = net.office.start(lambda: account_socket(PUBLIC_URL)).result(30)
    assert hello["type"] == "hello"
    assert hello["account"]["phone"] == phone  # type: ignore[index]

    # The app sees wss behind Caddy: a page served over plain http may not use the cookie.
    refused = net.office.start(lambda: account_socket(f"http://{NAME}")).result(30)
    assert refused["type"] == "error"
    assert refused["error"]["code"] == "not_authenticated"  # type: ignore[index]


def test_a_lan_name_gets_a_certificate_from_caddys_local_ca(
    net: netlab.Internet, tmp_path: Path
) -> None:
    # On the server's second address (the first one's 443 belongs to the module's site).
    lan = "mitalk.lan"
    address = net.server.second_address
    assert address
    data = tmp_path / "data"
    env = mitalk_env(
        data,
        MITALK_PUBLIC_URL=f"https://{lan}",
        MITALK_HTTPS_ADDRESS=address,
        MITALK_TLS_ISSUER="internal",
    )
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            net.server.command(*MITALK, "serve", "--host", "127.0.0.1", "--port", "8001"),
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    root = data / "caddy" / "data" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            answer = subprocess.run(
                net.home.command(
                    "curl", "-sS", "-i", "--max-time", "5", "--resolve", f"{lan}:443:{address}",
                    "--cacert", str(root), f"https://{lan}/healthz",
                ),
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if answer.returncode == 0 and _status(answer.stdout) == 200:
                break
            assert time.monotonic() < deadline, f"{answer.stderr}\n{log_path.read_text()[-2000:]}"
            time.sleep(0.3)
        # The root is the one devices install (docs/deploy.md); it signed the served chain.
        assert (
            "Caddy Local Authority"
            in subprocess.run(
                ["openssl", "x509", "-noout", "-subject", "-in", str(root)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
    finally:
        process.terminate()
        process.wait(15)
