"""Everything on, on the test internet: the office browser heard through TURN/TLS; mitalk doctor.

`mitalk serve` runs on the server host with everything on: https://talk.mitalk.test through
its managed Caddy (first address, 443 and 80), Janus, and the managed coturn with TURN over
TLS on the second address's port 443. A at home speaks; B in the office, where every UDP
packet is dropped, signs in, joins, hears A, and its selected ICE pair is a relay over TLS
(web/e2e/office.mjs). Each browser trusts the run's CA through an NSS database in a HOME of
its own; nothing ignores certificate errors. On the same site `mitalk doctor` finds nothing to
fix, and on the cloud host (1:1 NAT) it says which MITALK_PUBLIC_IP to set.

Every host resolves talk.mitalk.test through /etc/netns/<namespace>/hosts (tests/netlab.py),
which `ip netns exec` puts in place of /etc/hosts for what runs there.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import netlab
from browser import require_built_client, run_scenario
from certs import TestCA
from live import MITALK, mitalk_env, run_cli
from mitalk.media.audio import tone, write_wav

NAME = netlab.SERVER_NAME
HZ_A = 440.0
SCRIPT_TIMEOUT = 300


def _browser_home(folder: Path, ca: TestCA) -> Path:
    """A HOME whose NSS database (what Chromium on Linux trusts) holds the run's CA."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail(
            "the browser's trust needs `certutil` (apt-get install libnss3-tools)", pytrace=False
        )
    nssdb = folder / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(
        [certutil, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True, capture_output=True
    )
    subprocess.run(
        [
            certutil,
            "-d",
            f"sql:{nssdb}",
            "-A",
            "-t",
            "C,,",
            "-n",
            "Mi Talk test CA",
            "-i",
            str(ca.ca_file),
        ],
        check=True,
        capture_output=True,
    )
    return folder


def _in_host(folder: Path, host: netlab.Host, chromium: str) -> Path:
    """An executable that runs Debian's chromium inside ``host``'s network namespace."""
    wrapper = folder / f"chromium-{host.role}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {host.netns} {chromium} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


@pytest.fixture(scope="module")
def site(
    net: netlab.Internet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, TestCA, dict[str, str]]]:
    """Mi Talk on the server host: HTTPS through Caddy, Janus, and TURN over TLS on 443."""
    folder = tmp_path_factory.mktemp("office-browser")
    ca = TestCA(folder / "ca")
    # Three months, as an ACME CA gives: doctor warns about a certificate near its end.
    talk = ca.issue("talk", [NAME], not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=90))
    assert net.server.second_address and net.server.second_public
    turn = ca.issue("turn", [net.server.second_public])
    data = folder / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    env = mitalk_env(
        data,
        MITALK_MEDIA="managed",
        MITALK_PUBLIC_URL=f"https://{NAME}",
        MITALK_HTTPS_ADDRESS=net.server.address,
        MITALK_TLS_CERT=str(talk.chain_file),
        MITALK_TLS_KEY=str(talk.key_file),
        MITALK_TURN="managed",
        MITALK_TURN_LISTEN=net.server.second_address,
        MITALK_TURN_HOST=net.server.second_public,
        MITALK_TURN_TLS_PORT="443",
        MITALK_TURN_TLS_CERT=str(turn.chain_file),
        MITALK_TURN_TLS_KEY=str(turn.key_file),
        MITALK_CODES_PER_ADDRESS_PER_HOUR="1000",
        MITALK_CODE_REQUESTS_PER_ADDRESS_PER_HOUR="1000",
        MITALK_VERIFIES_PER_ADDRESS_PER_HOUR="1000",
    )
    log_path = folder / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            net.server.command(*MITALK, "serve", "--host", "127.0.0.1", "--port", "8000"),
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"mitalk serve exited: {log_path.read_text()[-3000:]}", pytrace=False)
            probe = subprocess.run(
                net.server.command(
                    "curl", "-sS", "--max-time", "3", "--cacert", str(ca.ca_file),
                    "--resolve", f"{NAME}:443:{net.server.public}", f"https://{NAME}/healthz",
                ),
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if probe.returncode == 0 and '"status":"ok"' in probe.stdout:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"not healthy: {probe.stdout} {probe.stderr}\n{log_path.read_text()[-3000:]}",
                    pytrace=False,
                )
            time.sleep(0.3)
        yield data, ca, env
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_office_browser_signs_in_over_https_and_hears_through_turn_over_tls(
    net: netlab.Internet, site: tuple[Path, TestCA, dict[str, str]], tmp_path: Path
) -> None:
    require_built_client()
    data, ca, _ = site
    from browser import chromium

    executable = chromium()
    rules = f"--host-resolver-rules=MAP {NAME} {net.server.public}"
    people = {}
    for role, host in (("home", net.home), ("office", net.office)):
        people[role] = {
            "executable": str(_in_host(tmp_path, host, executable)),
            "env": {"HOME": str(_browser_home(tmp_path / f"home-{role}", ca))},
            "flags": [rules],
        }
    dropped_before = net.nft_counter("officegw", "office", "udp_dropped")
    wav = tmp_path / "tone-a.wav"
    write_wav(wav, tone(HZ_A, 10.0), 48000)
    run_scenario(
        "office.mjs", f"https://{NAME}", data, tmp_path / "out", SCRIPT_TIMEOUT,
        home=people["home"], office=people["office"], toneA=str(wav), hzA=HZ_A,
    )  # fmt: skip
    # The office's firewall saw UDP from B's browser and dropped it: the relay was needed.
    assert net.nft_counter("officegw", "office", "udp_dropped") > dropped_before


def _doctor(host: netlab.Host, env: dict[str, str], *args: str) -> tuple[int, list[dict[str, str]]]:
    result = subprocess.run(
        host.command(*MITALK, "doctor", "--json", *args),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_doctor_finds_nothing_to_fix_on_the_running_site(
    net: netlab.Internet, site: tuple[Path, TestCA, dict[str, str]]
) -> None:
    _, ca, env = site
    code, findings = _doctor(net.server, env, "--ca", str(ca.ca_file))
    failed = [f for f in findings if f["status"] == "fail"]
    assert code == 0 and not failed, json.dumps(findings, indent=1)
    seen = {(f["check"], f["status"]) for f in findings}
    for check in (
        "public URL",
        "DNS",
        "certificate",
        "https",
        "HSTS",
        "redirect",
        "Janus",
        "media address",
        "TURN",
        "TURN over TLS",
        "database",
    ):
        assert (check, "ok") in seen, (check, json.dumps(findings, indent=1))
    ports = " ".join(f["detail"] for f in findings if f["check"] == "port")
    for expected in ("API", "https (Caddy)", "Janus API", "TURN over TLS"):
        assert expected in ports

    # Without the CA the certificate is one no phone trusts: doctor says so and exits 1.
    code, findings = _doctor(net.server, env)
    assert code == 1
    certificate = next(f for f in findings if f["check"] == "certificate")
    assert (
        certificate["status"] == "fail"
        and "self-signed certificate in certificate chain" in certificate["detail"]
    )


@pytest.mark.parametrize("url_host", [netlab.CLOUD_PUBLIC_IP, netlab.CLOUD_NAME])
def test_doctor_behind_1_to_1_nat_says_which_public_ip_to_set(
    net: netlab.Internet, tmp_path: Path, url_host: str
) -> None:
    """Whether the public URL names the address or a name that resolves to it."""
    from mitalk.core.settings import Settings
    from mitalk.media.janus_config import janus_config_from_settings

    public = net.cloud.public
    data = tmp_path / "data"
    assert run_cli(data, "db", "upgrade").returncode == 0
    env = mitalk_env(data, MITALK_MEDIA="managed", MITALK_PUBLIC_URL=f"https://{url_host}")
    code, findings = _doctor(net.cloud, env)
    assert code == 1
    media = next(f for f in findings if f["check"] == "media address")
    assert media["status"] == "fail" and net.cloud.address in media["detail"], media
    assert f"MITALK_PUBLIC_IP={public}" in media["fix"], media
    dns = next(f for f in findings if f["check"] == "DNS")
    assert f"MITALK_PUBLIC_IP={public}" in dns["fix"], dns

    # With it set (and Janus's config written as `mitalk serve` writes it), both hold.
    with net.cloud.entered():
        janus_config_from_settings(Settings(data_dir=data, public_ip=public))
    code, findings = _doctor(net.cloud, {**env, "MITALK_PUBLIC_IP": public})
    checks = {f["check"]: f for f in findings}
    assert checks["media address"]["status"] == "ok" and public in checks["media address"]["detail"]
    assert checks["DNS"]["status"] == "ok"


def test_healthz_reports_turn(
    net: netlab.Internet, site: tuple[Path, TestCA, dict[str, str]]
) -> None:
    _, ca, _ = site
    answer = subprocess.run(
        net.office.command(
            "curl", "-sS", "--max-time", "10", "--cacert", str(ca.ca_file),
            "--resolve", f"{NAME}:443:{net.server.public}", f"https://{NAME}/healthz",
        ),
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert answer.returncode == 0, answer.stderr
    assert json.loads(answer.stdout)["checks"] == {"database": "ok", "media": "ok", "turn": "ok"}
