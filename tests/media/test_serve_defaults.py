"""`mitalk serve` as the README's first command runs it: data in ./var (a relative path) and a
managed Janus, from a working directory of its own. Only Janus's ports differ from the
defaults, because the package's own Janus already holds 8188 in this namespace."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from live import free_port

from .conftest import Netns


def test_serve_with_every_default_runs_its_janus(netns: Netns, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    env.update(MITALK_JANUS_API_PORT="8488", MITALK_JANUS_RTP_PORT_RANGE="23000-23999")
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mitalk", "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            health: dict[str, object] = {}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and process.poll() is None:
                try:
                    response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    health = response.json()
                    if response.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            assert process.poll() is None, f"mitalk serve exited: {log_path.read_text()[-2000:]}"
            assert health.get("checks") == {"database": "ok", "media": "ok"}, health
            assert (tmp_path / "var" / "mitalk.db").exists()
            assert (tmp_path / "var" / "janus").is_dir()
        finally:
            process.terminate()
            process.wait(20)
