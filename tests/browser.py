"""Running the web client's browser scenarios (web/e2e/*.mjs) from pytest.

One runner for every browser test: it checks the tools (node, Debian's chromium,
playwright-core, the built client) and fails loudly when one is missing, writes the scenario's
config, runs node in a session of its own (a timeout ends node and every browser it started),
and fails with the scenario's output and the server's last log lines. Screens at phone size are
checked and, with MITALK_UPDATE_SCREENSHOTS=1, copied into docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from live import MITALK, mitalk_env

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE_SIZE = (780, 1688)  # 390 x 844 CSS pixels at device scale factor 2


def chromium() -> str:
    """Debian's chromium, or a loud failure."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "the browser tests need Debian's `chromium` on PATH (apt-get install chromium)",
        pytrace=False,
    )


def node() -> str:
    """node with playwright-core installed in web/, or a loud failure."""
    found = shutil.which("node")
    if found is None:
        pytest.fail(
            "the browser tests need `node` on PATH (apt-get install nodejs npm)", pytrace=False
        )
    if not (WEB / "node_modules" / "playwright-core" / "package.json").exists():
        pytest.fail(
            "web/node_modules has no playwright-core: run `cd web && npm ci`", pytrace=False
        )
    return found


def require_built_client() -> None:
    """The built web client that `mitalk serve` serves, or a loud failure."""
    if not (WEB / "dist" / "index.html").exists():
        pytest.fail(
            "web/dist is not built: "
            "run `bash scripts/setup.sh` (or `cd web && npm ci && npm run build`)",
            pytrace=False,
        )


def run_scenario(
    script: str, base: str, data: Path, out: Path, timeout: int, **extra: object
) -> None:
    """Run web/e2e/<script> against the server at ``base``; fail with its output if it fails."""
    config = {
        "base": base,
        "outbox": str(data / "sms-outbox.jsonl"),
        "outDir": str(out),
        "chromium": chromium(),
        "mitalk": MITALK,
        **extra,
    }
    out.mkdir(parents=True, exist_ok=True)
    config_file = out / f"{script}.json"
    config_file.write_text(json.dumps(config, indent=2))
    process = subprocess.Popen(
        [node(), str(WEB / "e2e" / script), str(config_file)],
        env=mitalk_env(data), cwd=WEB, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{script} ran longer than {timeout}s:\n{stdout}\n{stderr}", pytrace=False)
    print(stdout)
    if process.returncode != 0:
        # The server's own lines (its calls to the Janus API would drown them).
        logs = "".join(
            f"\n--- {log.name} (last lines, Janus API calls left out) ---\n"
            + "\n".join(
                [line for line in log.read_text().splitlines() if "HTTP Request:" not in line][-40:]
            )
            for log in sorted(data.parent.glob("serve-*.log"))
        )
        pytest.fail(
            f"{script} failed (exit {process.returncode}):\n{stdout}\n{stderr}{logs}", pytrace=False
        )


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG file."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def check_and_publish(out: Path, names: list[str]) -> None:
    """The screens exist at phone size; copy them into docs/ when asked to."""
    for name in names:
        shot = out / "screens" / f"{name}.png"
        assert shot.exists(), f"no screenshot {shot.name}"
        assert png_size(shot) == PHONE_SIZE, (shot.name, png_size(shot))
    if os.environ.get("MITALK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(out / "screens" / f"{name}.png", SCREENSHOTS / f"{name}.png")
