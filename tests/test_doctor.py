"""`mitalk doctor`: each check passes on what holds and fails, with a fix, on what does not.

The checks run against real things: a TLS server with certificates of a CA made for the test,
real listening sockets, a real SQLite file and PostgreSQL and Redis, the machine's own clock
(shifted with libfaketime for the skew). Janus, TURN and the public address behind 1:1 NAT are
checked where they run: tests/internet/test_doctor_site.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from certs import TestCA
from conftest import POSTGRES_URL, REDIS_URL
from live import MITALK, mitalk_env
from mitalk import doctor
from mitalk.core.database import Database
from mitalk.core.migrate import upgrade
from mitalk.core.settings import Settings


def _settings(tmp_path: Path, **values: object) -> Settings:
    defaults: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "secret_key": "k",
        "media": "off",
        "run_workers": False,
    }
    return Settings(**{**defaults, **values})  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _only(findings: list[doctor.Finding], check: str) -> list[doctor.Finding]:
    return [f for f in findings if f.check == check]


@asynccontextmanager
async def answering(
    response: bytes, *, tls: ssl.SSLContext | None = None, port: int | None = None
) -> AsyncIterator[int]:
    """A server on 127.0.0.1 that answers every request with ``response`` (a front of sorts)."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", port or 0, ssl=tls)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


def _tls(chain: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    return context


def _ok_response(*headers: str) -> bytes:
    body = b'{"status": "ok"}'
    lines = [
        "HTTP/1.1 200 OK",
        "content-type: application/json",
        f"content-length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path / "ca")


# Public URL and DNS ----------------------------------------------------------------------------


async def test_public_url_unset_or_plain_http_fails_with_what_to_set(tmp_path: Path) -> None:
    findings = await doctor.check_public_url(doctor.Context(_settings(tmp_path)))
    assert [f.status for f in findings] == ["fail"]
    assert "MITALK_PUBLIC_URL=https://" in (findings[0].fix or "")

    findings = await doctor.check_public_url(
        doctor.Context(_settings(tmp_path, public_url="http://localhost:8000"))
    )
    url = _only(findings, "public URL")[0]
    assert url.status == "fail" and url.fix == "set MITALK_PUBLIC_URL=https://localhost:8000"


async def test_a_name_resolving_here_passes_and_one_that_does_not_resolve_fails(
    tmp_path: Path,
) -> None:
    here = await doctor.check_public_url(
        doctor.Context(_settings(tmp_path, public_url="https://localhost"))
    )
    assert [(f.check, f.status) for f in here] == [("public URL", "ok"), ("DNS", "ok")]

    nowhere = await doctor.check_public_url(
        doctor.Context(_settings(tmp_path, public_url="https://mitalk.invalid"))
    )
    dns = _only(nowhere, "DNS")[0]
    assert (
        dns.status == "fail" and "does not resolve" in dns.detail and "A record" in (dns.fix or "")
    )


async def test_behind_1_to_1_nat_the_public_address_must_be_set(tmp_path: Path) -> None:
    # The name resolves to an address no interface of this machine has: a 1:1 NAT's.
    ctx = doctor.Context(_settings(tmp_path, public_url="https://203.0.113.70"))
    dns = _only(await doctor.check_public_url(ctx), "DNS")[0]
    assert dns.status == "fail"
    assert "MITALK_PUBLIC_IP=203.0.113.70" in (dns.fix or "")
    assert ctx.public_addresses == ("203.0.113.70",)

    told = doctor.Context(
        _settings(tmp_path, public_url="https://203.0.113.70", public_ip="203.0.113.70")
    )
    assert _only(await doctor.check_public_url(told), "DNS")[0].status == "ok"


# The certificate -------------------------------------------------------------------------------


async def _certificate_findings(
    tmp_path: Path, ca: TestCA, chain: Path, key: Path, *, trust: bool = True
) -> doctor.Finding:
    async with answering(_ok_response(), tls=_tls(chain, key)) as port:
        settings = _settings(tmp_path, public_url=f"https://localhost:{port}")
        findings = await doctor.check_certificate(
            doctor.Context(settings, ca_file=ca.ca_file if trust else None)
        )
    assert len(findings) == 1
    return findings[0]


async def test_a_valid_certificate_passes_with_its_names_issuer_and_end(
    tmp_path: Path, ca: TestCA
) -> None:
    issued = ca.issue(
        "good", ["localhost"], not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=60)
    )
    finding = await _certificate_findings(tmp_path, ca, issued.chain_file, issued.key_file)
    assert finding.status == "ok", finding
    assert (
        "localhost" in finding.detail
        and "Mi Talk test CA" in finding.detail
        and "(60 days)" in finding.detail
    )


async def test_an_expired_certificate_fails(tmp_path: Path, ca: TestCA) -> None:
    now = dt.datetime.now(dt.UTC)
    issued = ca.issue(
        "old",
        ["localhost"],
        not_before=now - dt.timedelta(days=90),
        not_after=now - dt.timedelta(days=1),
    )
    finding = await _certificate_findings(tmp_path, ca, issued.chain_file, issued.key_file)
    assert finding.status == "fail" and "expired" in finding.detail, finding


async def test_a_certificate_for_another_name_fails(tmp_path: Path, ca: TestCA) -> None:
    issued = ca.issue("other", ["other.example.com"])
    finding = await _certificate_findings(tmp_path, ca, issued.chain_file, issued.key_file)
    assert finding.status == "fail" and "other.example.com" in finding.detail, finding
    assert "mismatch" in finding.detail.lower() or "doesn't match" in finding.detail.lower()


async def test_a_certificate_of_an_untrusted_ca_fails_and_says_to_install_the_root(
    tmp_path: Path, ca: TestCA
) -> None:
    issued = ca.issue("good", ["localhost"])
    finding = await _certificate_findings(
        tmp_path, ca, issued.chain_file, issued.key_file, trust=False
    )
    # The served chain ends in the run's CA, which nobody trusts here.
    assert (
        finding.status == "fail"
        and "self-signed certificate in certificate chain" in finding.detail
    ), finding
    assert "root must be installed on every device" in (finding.fix or "")


async def test_a_certificate_near_its_end_warns(tmp_path: Path, ca: TestCA) -> None:
    issued = ca.issue(
        "ending", ["localhost"], not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=5)
    )
    finding = await _certificate_findings(tmp_path, ca, issued.chain_file, issued.key_file)
    assert finding.status == "warn" and "ends in" in finding.detail, finding


async def test_no_tls_answer_fails(tmp_path: Path) -> None:
    settings = _settings(tmp_path, public_url=f"https://localhost:{_free_port()}")
    [finding] = await doctor.check_certificate(doctor.Context(settings))
    assert finding.status == "fail" and "no TLS answer" in finding.detail


# HSTS and the redirect ---------------------------------------------------------------------------


async def test_https_answers_need_hsts_and_plain_http_must_redirect(
    tmp_path: Path, ca: TestCA
) -> None:
    issued = ca.issue("good", ["localhost"])
    tls = _tls(issued.chain_file, issued.key_file)
    redirect = (
        b"HTTP/1.1 308 Permanent Redirect\r\nlocation: https://localhost/\r\n"
        b"content-length: 0\r\n\r\n"
    )
    async with (
        answering(
            _ok_response("strict-transport-security: max-age=31536000"), tls=tls
        ) as https_port,
        answering(redirect) as http_port,
    ):
        settings = _settings(
            tmp_path, public_url=f"https://localhost:{https_port}", http_port=http_port
        )
        findings = await doctor.check_https_answers(doctor.Context(settings, ca_file=ca.ca_file))
    assert [(f.check, f.status) for f in findings] == [
        ("https", "ok"),
        ("HSTS", "ok"),
        ("redirect", "ok"),
    ]

    async with (
        answering(_ok_response(), tls=tls) as https_port,
        answering(_ok_response()) as http_port,
    ):
        settings = _settings(
            tmp_path, public_url=f"https://localhost:{https_port}", http_port=http_port
        )
        findings = await doctor.check_https_answers(doctor.Context(settings, ca_file=ca.ca_file))
    assert [(f.check, f.status) for f in findings] == [
        ("https", "ok"),
        ("HSTS", "fail"),
        ("redirect", "fail"),
    ]
    assert "X-Forwarded-Proto" in (findings[1].fix or "")


# Ports -----------------------------------------------------------------------------------------


async def test_ports_that_should_listen(tmp_path: Path) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    try:
        port = int(server.sockets[0].getsockname()[1])
        findings = await doctor.check_ports(doctor.Context(_settings(tmp_path, port=port)))
        assert [(f.check, f.status) for f in findings] == [("port", "ok")]
    finally:
        server.close()
        await server.wait_closed()
    findings = await doctor.check_ports(doctor.Context(_settings(tmp_path, port=port)))
    assert [(f.check, f.status) for f in findings] == [("ports", "fail")]
    assert f"API (TCP 127.0.0.1:{port})" in findings[0].detail

    exposed = await doctor.check_ports(
        doctor.Context(
            _settings(
                tmp_path, host="0.0.0.0", port=port, public_url="https://localhost", tls="external"
            )
        )
    )
    assert ("ports", "warn") in [(f.check, f.status) for f in exposed]


# Janus and TURN off, database, Redis, clock -----------------------------------------------


async def test_janus_not_running_fails_and_media_off_passes(tmp_path: Path) -> None:
    off = await doctor.check_janus(doctor.Context(_settings(tmp_path)))
    assert [f.status for f in off] == ["ok"]
    managed = await doctor.check_janus(
        doctor.Context(_settings(tmp_path, media="managed", janus_api_port=_free_port()))
    )
    janus = _only(managed, "Janus")[0]
    assert janus.status == "fail" and "does not answer" in janus.detail


async def test_turn_off_warns_what_office_networks_lose(tmp_path: Path) -> None:
    [finding] = await doctor.check_turn(doctor.Context(_settings(tmp_path)))
    assert finding.status == "warn" and "MITALK_TURN=managed" in (finding.fix or "")
    managed = await doctor.check_turn(
        doctor.Context(
            _settings(tmp_path, turn="managed", turn_host="127.0.0.1", turn_port=_free_port())
        )
    )
    assert [(f.check, f.status) for f in managed][:2] == [("TURN", "fail"), ("TURN", "fail")]


async def test_the_database_must_be_reachable_and_migrated(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.ensure_data_dir()
    behind = await doctor.check_clock_and_stores(doctor.Context(settings))
    database = _only(behind, "database")[0]
    assert database.status == "fail" and "mitalk db upgrade" in (database.fix or "")

    db = Database(settings.resolved_database_url)
    await upgrade(db)
    await db.dispose()
    migrated = await doctor.check_clock_and_stores(doctor.Context(settings))
    assert _only(migrated, "database")[0].status == "ok"

    closed = _settings(
        tmp_path, database_url=f"postgresql+asyncpg://mitalk:mitalk@127.0.0.1:{_free_port()}/none"
    )
    unreachable = _only(await doctor.check_clock_and_stores(doctor.Context(closed)), "database")[0]
    assert unreachable.status == "fail" and "unreachable" in unreachable.detail


async def test_postgres_and_redis_pass_with_clocks_that_agree(tmp_path: Path) -> None:
    settings = _settings(tmp_path, database_url=POSTGRES_URL, redis_url=REDIS_URL)
    db = Database(settings.resolved_database_url)
    await upgrade(db)
    await db.dispose()
    findings = await doctor.check_clock_and_stores(doctor.Context(settings))
    statuses = {(f.check, f.status) for f in findings}
    assert ("database", "ok") in statuses and ("Redis", "ok") in statuses
    skews = [f for f in findings if f.check == "clock" and "agrees" in f.detail]
    assert len(skews) == 2 and all(f.status == "ok" for f in skews)

    gone = _settings(tmp_path, redis_url=f"redis://127.0.0.1:{_free_port()}/0")
    redis = _only(await doctor.check_clock_and_stores(doctor.Context(gone)), "Redis")[0]
    assert redis.status == "fail" and "unreachable" in redis.detail


def test_the_kernel_clock_state_is_reported(tmp_path: Path) -> None:
    synced = doctor.kernel_clock_synchronized()
    assert synced in (True, False)  # this is Linux: adjtimex answers
    findings = asyncio.run(doctor.check_clock_and_stores(doctor.Context(_settings(tmp_path))))
    clock = [f for f in findings if f.check == "clock"]
    assert clock and clock[0].status == ("ok" if synced else "warn")


@pytest.fixture
def faketime() -> str:
    found = shutil.which("faketime")
    if found is None:
        pytest.fail("the clock test needs `faketime` (apt-get install faketime)", pytrace=False)
    return found


def test_a_clock_an_hour_off_the_databases_fails_and_doctor_exits_1(
    tmp_path: Path, faketime: str
) -> None:
    data = tmp_path / "data"
    env = mitalk_env(data, MITALK_DATABASE_URL=POSTGRES_URL, MITALK_PUBLIC_URL="https://localhost")
    assert (
        subprocess.run(
            [*MITALK, "db", "upgrade"], env=env, capture_output=True, check=False
        ).returncode
        == 0
    )
    shifted = subprocess.run(
        [faketime, "-f", "+1h", *MITALK, "doctor", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert shifted.returncode == 1, shifted.stderr
    findings = json.loads(shifted.stdout)
    skew = [f for f in findings if f["check"] == "clock" and "off the database" in f["detail"]]
    assert skew and skew[0]["status"] == "fail", findings
    assert (
        "-3600" in skew[0]["detail"] or "+3600" in skew[0]["detail"] or "3599" in skew[0]["detail"]
    )


def test_the_command_prints_a_line_per_finding_and_the_fix(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = subprocess.run(
        [*MITALK, "doctor"],
        env=mitalk_env(data),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL  public URL")
    assert lines[1].strip().startswith("→ set MITALK_PUBLIC_URL=https://")
    assert lines[-1].endswith("ok") and "to fix" in lines[-1]
