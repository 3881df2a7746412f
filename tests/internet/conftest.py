"""Fixtures of the internet tests: the namespace network of tests/netlab.py, built once.

Every test here runs its servers and clients on the hosts of that network (``ip netns exec``
for processes, ``Host.run`` for in-process bots); the test process's own threads stay in the
host namespace, where nothing of this package sends media. A missing tool or right fails the
tests: never skipped.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import netlab
from live import MITALK, mitalk_env, run_cli
from media.served import Served


@pytest.fixture(scope="package")
def net() -> Iterator[netlab.Internet]:
    """The test internet: server, cloud (1:1 NAT), home (NAT), office (NAT, only TCP 443 out)."""
    try:
        with netlab.internet() as network:
            yield network
    except netlab.NetlabError as exc:
        pytest.fail(str(exc), pytrace=False)


@dataclass
class Site:
    """A `mitalk serve` running on a host of the test network, as the clients reach it."""

    host: netlab.Host
    served: Served
    log: Path

    @property
    def base(self) -> str:
        return self.served.base


async def _healthy(url: str) -> bool:
    """Whether ``url`` answers 200, asked from the calling host (its names, its routes)."""
    # Over https: the run's CA, through SSL_CERT_FILE (trust_test_ca).
    async with httpx.AsyncClient(verify=ssl.create_default_context(), timeout=1) as client:
        try:
            return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False


@contextmanager
def serve_on(host: netlab.Host, data_dir: Path, port: int, **settings: str) -> Iterator[Site]:
    """Run `mitalk serve` (managed Janus, settings as given) on ``host``, listening on ``port``.

    Reached at the host's public address, from the clients' hosts: the URL in ``Site.base``.
    With ``MITALK_PUBLIC_URL`` among the settings (https), the API listens on the host's
    loopback at ``port`` and the managed Caddy serves the public URL; clients use that.
    """
    https = settings.get("MITALK_PUBLIC_URL", "").startswith("https://")
    assert run_cli(data_dir, "admin", "phase", "open").returncode == 0
    env = mitalk_env(
        data_dir,
        MITALK_MEDIA="managed",
        # Every person signs in from one of two addresses (the NATs'): lift the per-address
        # limits that tests/accounts tests.
        MITALK_CODES_PER_ADDRESS_PER_HOUR="1000",
        MITALK_CODE_REQUESTS_PER_ADDRESS_PER_HOUR="1000",
        MITALK_VERIFIES_PER_ADDRESS_PER_HOUR="1000",
        **settings,
    )
    log_path = data_dir.parent / f"serve-{host.role}-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            host.command(
                *MITALK,
                "serve",
                "--host",
                "127.0.0.1" if https else host.address,
                "--port",
                str(port),
            ),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    health_url = (
        f"{settings['MITALK_PUBLIC_URL']}/healthz"
        if https
        else f"http://{host.address}:{port}/healthz"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"mitalk serve on {host.role} exited: {log_path.read_text()[-2000:]}")
            if host.start(lambda: _healthy(health_url)).result(10):
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mitalk serve on {host.role} not healthy: {log_path.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        base = settings["MITALK_PUBLIC_URL"] if https else f"http://{host.public}:{port}"
        yield Site(host, Served(base, data_dir), log_path)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class CertAuthority:
    """A certificate authority made for this run, and a server certificate it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="package")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    """A CA and a certificate for the servers' names and public addresses (HTTPS, TURN/TLS)."""
    folder = tmp_path_factory.mktemp("ca")
    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Mi Talk test CA"))
        .issuer_name(name("Mi Talk test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    # The servers' public addresses: the web front (https) on the first, TURN/TLS on the second.
    addresses = [
        netlab.SERVER_IP,
        netlab.SERVER_SECOND_IP,
        netlab.CLOUD_PUBLIC_IP,
        netlab.CLOUD_SECOND_PUBLIC_IP,
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("turn.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in netlab.NAMES]
                + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    result = CertAuthority(folder / "ca.pem", folder / "turn.pem", folder / "turn.key")
    result.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    result.cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    )
    result.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return result


@pytest.fixture(scope="package")
def trust_test_ca(test_ca: CertAuthority) -> Iterator[CertAuthority]:
    """Clients of this package (in-process bots, `mitalk bot`) trust the test CA, and only it.

    OpenSSL's default verify paths honour SSL_CERT_FILE: what an operator with a private CA
    would set too. Nothing here ignores certificate errors.
    """
    previous = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(test_ca.ca_file)
    try:
        yield test_ca
    finally:
        if previous is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = previous
