"""HTTPS from an ACME CA: the managed Caddy gets its certificate the way a public name does.

A second Caddy plays the ACME CA "somewhere on the internet" (its ``acme_server``, on the test
internet's router at https://acme.mitalk.test:9443, with a CA of its own made at start). The
server runs `mitalk serve` with MITALK_PUBLIC_URL=https://www.mitalk.test and nothing about
certificates but where the CA is (MITALK_ACME_CA, and MITALK_ACME_CA_ROOT to trust the CA's
own https): what an operator with a public name gets from Let's Encrypt, with the directory
moved. The CA checks the name through the test network's DNS (tests/netlab.py) by a challenge
on the server's ports 80 or 443, issues, and clients that trust only that CA's root verify the
served chain (curl, a Python TLS client, `mitalk doctor`); nothing ignores certificate errors.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import netlab
from live import MITALK, mitalk_env, run_cli

NAME = netlab.SERVER_SECOND_NAME
CA_PORT = 9443
DIRECTORY = f"https://{netlab.ACME_CA_NAME}:{CA_PORT}/acme/local/directory"
CA_NAME = "Mi Talk test ACME CA"


def _caddy_process(host: netlab.Host, folder: Path, caddyfile: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Caddyfile").write_text(caddyfile)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    log = (folder / "caddy.log").open("w")
    config = str(folder / "Caddyfile")
    return subprocess.Popen(
        host.command("caddy", "run", "--config", config, "--adapter", "caddyfile"),
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder,
    )  # fmt: skip


@pytest.fixture(scope="module")
def acme_ca(net: netlab.Internet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An ACME CA on the internet's router; yields the root certificate of the CA it runs."""
    folder = tmp_path_factory.mktemp("acme-ca")
    inet = net.router("inet")
    caddyfile = f"""{{
\tadmin off
\tskip_install_trust
\thttp_port 9080
\tstorage file_system {{
\t\troot "{folder / "data"}"
\t}}
\tpki {{
\t\tca local {{
\t\t\tname "{CA_NAME}"
\t\t}}
\t}}
}}

https://{netlab.ACME_CA_NAME}:{CA_PORT} {{
\tbind {inet.address}
\ttls internal
\tacme_server
}}
"""
    process = _caddy_process(inet, folder, caddyfile)
    root = folder / "data" / "pki" / "authorities" / "local" / "root.crt"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (folder / "caddy.log").read_text()[-2000:]
            if root.exists():
                answer = subprocess.run(
                    net.server.command(
                        "curl", "-sS", "--max-time", "3", "--cacert", str(root), DIRECTORY
                    ),
                    capture_output=True, text=True, check=False,
                )  # fmt: skip
                if answer.returncode == 0 and "newOrder" in answer.stdout:
                    break
            assert time.monotonic() < deadline, (folder / "caddy.log").read_text()[-2000:]
            time.sleep(0.3)
        yield root
    finally:
        process.terminate()
        process.wait(15)


@pytest.fixture(scope="module")
def acme_site(
    net: netlab.Internet, acme_ca: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """`mitalk serve` at https://www.mitalk.test (the server's second address), certificate by
    ACME; yields its data dir once a client trusting only the ACME CA gets /healthz."""
    assert net.server.second_address
    folder = tmp_path_factory.mktemp("acme-site")
    data = folder / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    env = mitalk_env(
        data,
        MITALK_PUBLIC_URL=f"https://{NAME}",
        MITALK_HTTPS_ADDRESS=net.server.second_address,
        MITALK_ACME_CA=DIRECTORY,
        MITALK_ACME_CA_ROOT=str(acme_ca),
        MITALK_ACME_EMAIL="ops@mitalk.test",
    )
    log_path = folder / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            net.server.command(*MITALK, "serve", "--host", "127.0.0.1", "--port", "8010"),
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    caddy_log = data / "caddy" / "caddy.log"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            answer = subprocess.run(
                net.home.command(
                    "curl", "-sS", "--max-time", "5", "--cacert", str(acme_ca),
                    f"https://{NAME}/healthz",
                ),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if answer.returncode == 0 and '"status":"ok"' in answer.stdout:
                break
            assert time.monotonic() < deadline, (
                f"{answer.stderr}\n{log_path.read_text()[-2000:]}\n"
                f"{caddy_log.read_text()[-3000:] if caddy_log.exists() else ''}"
            )
            time.sleep(0.5)
        yield data
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_managed_front_gets_its_certificate_from_the_acme_ca(
    net: netlab.Internet, acme_ca: Path, acme_site: Path
) -> None:
    # Caddy keeps what it obtained under the CA's directory (host and path): issued by ACME.
    issued = acme_site / "caddy" / "data" / "certificates"
    [folder] = [p for p in issued.iterdir() if p.name.startswith(netlab.ACME_CA_NAME)]
    certificate = folder / NAME / f"{NAME}.crt"
    assert certificate.exists(), sorted(str(p) for p in issued.rglob("*"))
    # Its issuer is the ACME CA's intermediate, which Caddy's own local CA never is.
    issuer = subprocess.run(
        ["openssl", "x509", "-noout", "-issuer", "-in", str(certificate)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert CA_NAME in issuer, issuer
    # The CA checked the name by a challenge over the test internet, from its own address:
    # http-01 on port 80 or tls-alpn-01 on 443, whichever Caddy offered first.
    lines = (acme_site / "caddy" / "caddy.log").read_text().splitlines()
    log = [json.loads(line) for line in lines if line.startswith("{")]
    served = [e for e in log if str(e.get("msg")).startswith("served key authentication")]
    assert served, log
    assert NAME in (served[0].get("identifier"), served[0].get("server_name")), served
    assert served[0]["challenge"] in ("http-01", "tls-alpn-01"), served
    assert served[0]["remote"].split(":")[0] == netlab.INET_IP, served

    # A client that trusts only the ACME CA's root verifies the served chain for the name ...
    def handshake() -> dict[str, object]:
        context = ssl.create_default_context(cafile=str(acme_ca))
        with (
            net.office.entered(),
            socket.create_connection((netlab.SERVER_SECOND_IP, 443), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=NAME) as tls,
        ):
            return dict(tls.getpeercert() or {})

    peer = handshake()
    assert ("DNS", NAME) in peer["subjectAltName"]  # type: ignore[operator]
    # ... and one that trusts the usual roots only does not (curl: peer certificate not trusted).
    refused = subprocess.run(
        net.office.command("curl", "-sS", "--max-time", "10", f"https://{NAME}/healthz"),
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert refused.returncode == 60, refused


def test_doctor_accepts_the_acme_certificate(
    net: netlab.Internet, acme_ca: Path, acme_site: Path
) -> None:
    env = mitalk_env(
        acme_site,
        MITALK_PUBLIC_URL=f"https://{NAME}",
        MITALK_HTTPS_ADDRESS=net.server.second_address or "",
        MITALK_ACME_CA=DIRECTORY,
        MITALK_ACME_CA_ROOT=str(acme_ca),
    )
    result = subprocess.run(
        net.server.command(*MITALK, "doctor", "--json", "--ca", str(acme_ca)),
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    findings = {f["check"]: f for f in json.loads(result.stdout)}
    certificate = findings["certificate"]
    # Trusted, for the name, from the ACME CA. Caddy's acme_server issues for 12 hours, which
    # doctor rightly calls near its end (a warning, Caddy renews by itself), never a failure.
    assert NAME in certificate["detail"] and CA_NAME in certificate["detail"], certificate
    assert certificate["status"] == "ok" or (
        certificate["status"] == "warn" and certificate["detail"].startswith("ends in")
    ), certificate
    assert findings["HSTS"]["status"] == "ok" and findings["redirect"]["status"] == "ok"
