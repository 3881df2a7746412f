"""HTTPS in front of the API: a managed Caddy, or TLS inside uvicorn, against plain HTTP.

Run:  .venv/bin/python bench/https.py [--seconds 5] [--rounds 3] [--connections 16]
(needs `wrk`, `caddy`)

Three ways to serve the same app (MITALK_MEDIA=off, SQLite, on loopback only), measured with
wrk in the same run so the ratios hold on a busy machine:

1. ``http``: ``mitalk serve`` as the embedded default serves it (uvicorn, plain HTTP);
2. ``uvicorn-tls``: the same uvicorn with ``--ssl-certfile/--ssl-keyfile`` (TLS in the ASGI
   server; Python's ssl module does the handshakes and the record layer in the event loop);
3. ``caddy``: ``mitalk serve`` with ``MITALK_PUBLIC_URL=https://…`` (Caddy terminates TLS and
   forwards to uvicorn on loopback), with the same certificate files.

Two loads each: ``keep-alive`` (wrk's default: few TLS handshakes, the record layer's cost)
and ``new-connection`` (``Connection: close``: one TLS handshake per request, what phones that
come and go cost). Requests go to ``GET /healthz`` (one ``SELECT 1``), a small API answer. The
certificate is an ECDSA P-256 leaf of a CA made for the run (``cryptography``). The three
servers run at once and are measured in alternating rounds; each figure is the median over the
rounds. Prints a table and, last, one JSON line with requests/s and latency p50/p99 per variant
and the ratios to plain HTTP.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PLAIN_PORT, UVICORN_TLS_PORT, CADDY_PORT, CADDY_HTTP_PORT = 18601, 18602, 18603, 18604
CADDY_UPSTREAM_PORT = 18605


def make_certificate(folder: Path, name: str = "localhost") -> tuple[Path, Path, Path]:
    """A CA and a leaf for ``name`` (and 127.0.0.1); returns (ca, chain, key) PEM paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mitalk bench CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, chain_path, key_path = folder / "ca.pem", folder / "chain.pem", folder / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca_path.read_bytes())
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, chain_path, key_path


def wait_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until something listens on 127.0.0.1:port (or the process died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port} after {timeout}s")


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    """Run a server until the block ends (SIGTERM, then SIGKILL)."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_port(port, process)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_healthy(url: str, ca: Path, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200, verifying TLS against the run's CA."""
    import ssl
    import urllib.request

    context = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(
                url, timeout=2, context=context if url.startswith("https") else None
            ) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} not healthy after {timeout}s")
        time.sleep(0.2)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, seconds: int, connections: int, close: bool) -> dict[str, float]:
    """One wrk run: requests/s and latency p50/p99 (ms), non-2xx answers counted."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if close:
        command[1:1] = ["-H", "Connection: close"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    if bad or errors:
        print(
            f"  wrk saw problems: {bad.group(0) if bad else ''} "
            f"{errors.group(0) if errors else ''}",
            file=sys.stderr,
        )
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for tool in ("wrk", "caddy"):
        if shutil.which(tool) is None:
            raise SystemExit(f"bench/https.py needs `{tool}` (apt-get install {tool})")

    with tempfile.TemporaryDirectory(prefix="mitalk-bench-https-") as folder_name:
        folder = Path(folder_name)
        ca, chain, key = make_certificate(folder)
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MITALK_")},
            "MITALK_MEDIA": "off",
            "MITALK_RUN_WORKERS": "false",
            "MITALK_SECRET_KEY": "bench-https",
            "MITALK_LOG_LEVEL": "warning",
        }
        mitalk = [sys.executable, "-m", "mitalk"]
        # TLS inside the ASGI server: the same app, uvicorn given the certificate files.
        uvicorn_tls = [sys.executable, "-m", "uvicorn", "mitalk.app:create_app", "--factory"]
        uvicorn_tls += [
            "--host",
            "127.0.0.1",
            "--port",
            str(UVICORN_TLS_PORT),
            "--log-level",
            "warning",
        ]
        uvicorn_tls += ["--no-access-log", "--ssl-certfile", str(chain), "--ssl-keyfile", str(key)]
        variants: dict[str, tuple[list[str], dict[str, str], int, str]] = {
            "http": (
                [*mitalk, "serve", "--host", "127.0.0.1", "--port", str(PLAIN_PORT)],
                {**base_env, "MITALK_DATA_DIR": str(folder / "plain")},
                PLAIN_PORT,
                f"http://127.0.0.1:{PLAIN_PORT}/healthz",
            ),
            "uvicorn-tls": (
                uvicorn_tls,
                {**base_env, "MITALK_DATA_DIR": str(folder / "uvicorn-tls")},
                UVICORN_TLS_PORT,
                f"https://localhost:{UVICORN_TLS_PORT}/healthz",
            ),
            "caddy": (
                [*mitalk, "serve", "--host", "127.0.0.1", "--port", str(CADDY_UPSTREAM_PORT)],
                {
                    **base_env,
                    "MITALK_DATA_DIR": str(folder / "caddy"),
                    "MITALK_PUBLIC_URL": f"https://localhost:{CADDY_PORT}",
                    "MITALK_HTTP_PORT": str(CADDY_HTTP_PORT),
                    "MITALK_HTTPS_ADDRESS": "127.0.0.1",
                    "MITALK_TLS_CERT": str(chain),
                    "MITALK_TLS_KEY": str(key),
                },
                CADDY_PORT,
                f"https://localhost:{CADDY_PORT}/healthz",
            ),
        }
        for name, (command, env, _, _) in variants.items():
            if command[:3] == mitalk[:3]:
                continue
            # uvicorn alone does not migrate: the same first step `mitalk serve` takes.
            subprocess.run([*mitalk, "db", "upgrade"], env=env, check=True, capture_output=True)
        # All three up at once, measured in alternating rounds: a busy machine then slows each
        # variant alike, and the medians over rounds compare like with like.
        rounds: dict[str, dict[str, list[dict[str, float]]]] = {
            name: {"keep-alive": [], "new-connection": []} for name in variants
        }
        with contextlib.ExitStack() as stack:
            for name, (command, env, port, url) in variants.items():
                print(f"{name}: starting", file=sys.stderr)
                stack.enter_context(started(command, env, port, folder / f"{name}.log"))
                wait_healthy(url, ca)
                wrk(url, 1, args.connections, close=False)  # warm-up
            for round_number in range(args.rounds):
                for name, (_, _, _, url) in variants.items():
                    for load in ("keep-alive", "new-connection"):
                        figures = wrk(
                            url, args.seconds, args.connections, close=load == "new-connection"
                        )
                        rounds[name][load].append(figures)
                        print(f"round {round_number + 1} {name} {load}: {figures}", file=sys.stderr)
        results = {
            name: {
                load: {
                    key: statistics.median(r[key] for r in runs)
                    for key in ("rps", "p50_ms", "p99_ms")
                }
                for load, runs in loads.items()
            }
            for name, loads in rounds.items()
        }

    print(f"\n{'variant':<13} {'load':<15} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs http':>8}")
    summary: dict[str, float] = {}
    for name, loads in results.items():
        for load, figures in loads.items():
            ratio = figures["rps"] / results["http"][load]["rps"]
            print(
                f"{name:<13} {load:<15} {figures['rps']:>9.0f} {figures['p50_ms']:>8.2f} "
                f"{figures['p99_ms']:>8.2f} {ratio:>8.2f}"
            )
            key_base = f"{name.replace('-', '_')}_{load.replace('-', '_')}"
            summary[f"{key_base}_rps"] = round(figures["rps"], 1)
            summary[f"{key_base}_p50_ms"] = round(figures["p50_ms"], 2)
            summary[f"{key_base}_p99_ms"] = round(figures["p99_ms"], 2)
            summary[f"{key_base}_rps_ratio"] = round(ratio, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
