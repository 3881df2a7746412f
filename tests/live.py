"""A real `mitalk serve` process on a free loopback port, for tests that need real HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

MITALK = [sys.executable, "-m", "mitalk"]
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mitalk_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a mitalk process using ``data_dir`` (SQLite inside it by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    # No managed Janus unless a test asks for one (tests/media does, inside its namespace).
    env.update(
        {
            "MITALK_DATA_DIR": str(data_dir),
            "MITALK_SECRET_KEY": "live-test-key",
            "MITALK_MEDIA": "off",
        },
        **extra,
    )
    return env


def run_cli(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Run the `mitalk` command as an operator would."""
    return subprocess.run(
        [*MITALK, *args], env=mitalk_env(data_dir, **extra), capture_output=True, text=True,
        timeout=60, check=False,
    )


@contextmanager
def live_server(data_dir: Path, **extra: str) -> Iterator[str]:
    """Start `mitalk serve`, wait until /healthz answers, yield its base URL, stop it."""
    port = free_port()
    log = (data_dir.parent / f"serve-{port}.log").open("w")
    process = subprocess.Popen(
        [*MITALK, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=mitalk_env(data_dir, **extra), stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: on a busy 2-core machine (load 13) a cold `mitalk serve` took 25-30 s
        # to answer.
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mitalk serve exited with {process.returncode}; see {log.name}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"mitalk serve did not become healthy in {STARTUP_SECONDS} s; see {log.name}"
                )
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
