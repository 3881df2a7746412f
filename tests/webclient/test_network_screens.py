"""The network screens in real headless Chromium against a real `mitalk serve` (no media).

`web/e2e/network.mjs` (playwright-core driving Debian's chromium) does what two people do:
A and B sign in through the UI, A fills in a profile with a photo, B finds A by a skill,
follows and asks to connect, A's bell counts up live and A accepts, both see each other in
their network, A schedules a room that B RSVPs to, and after B blocks A, A no longer finds B.
Every wait is bounded and says what it waited for; a failure leaves screenshots. The screens
at phone size land in the test's output folder, and in docs/screenshots/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
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
from PIL import Image, ImageDraw

from live import MITALK, live_server, mitalk_env, run_cli

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
SCRIPT_TIMEOUT = 240  # seconds for the whole scenario, two browsers included
PHONE_SIZE = (780, 1688)  # 390 x 844 CSS pixels at device scale factor 2
SCREENS = [
    "profile-editor", "search", "person", "notifications", "connections", "hallway-upcoming", "room-person-menu",
]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"the browser test needs `{name}` on PATH (apt-get install {name})", pytrace=False)
    return found


def _avatar_png(path: Path) -> Path:
    """A 400x300 photo-like PNG (gradient and shapes), so the server has something to crop."""
    image = Image.new("RGB", (400, 300))
    draw = ImageDraw.Draw(image)
    for y in range(300):
        draw.line([(0, y), (400, y)], fill=(30 + y // 3, 90 + y // 4, 160 - y // 4))
    draw.ellipse((140, 60, 260, 180), fill=(245, 205, 170))
    draw.rectangle((120, 190, 280, 300), fill=(40, 60, 110))
    image.save(path, "PNG")
    return path


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_network_screens_in_two_browsers(tmp_path: Path) -> None:
    """Profile, search, person page, live notifications, connections, blocks, upcoming rooms."""
    node, chromium = _tool("node"), _tool("chromium")
    if not (WEB / "node_modules" / "playwright-core" / "package.json").exists():
        pytest.fail("web/node_modules has no playwright-core: run `cd web && npm ci`", pytrace=False)
    if not (WEB / "dist" / "index.html").exists():
        pytest.fail("web/dist is not built: run `cd web && npm ci && npm run build`", pytrace=False)

    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    out.mkdir()
    with live_server(data) as base:
        config = {
            "base": base,
            "outbox": str(data / "sms-outbox.jsonl"),
            "outDir": str(out),
            "chromium": chromium,
            "mitalk": MITALK,
            "avatar": str(_avatar_png(tmp_path / "avatar.png")),
        }
        config_file = out / "network.json"
        config_file.write_text(json.dumps(config, indent=2))
        # A session of its own, so a timeout ends node and every browser it started together.
        process = subprocess.Popen(
            [node, str(WEB / "e2e" / "network.mjs"), str(config_file)],
            env=mitalk_env(data), cwd=WEB, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"network.mjs ran longer than {SCRIPT_TIMEOUT}s:\n{stdout}\n{stderr}", pytrace=False)
    print(stdout)
    if process.returncode != 0:
        logs = "".join(
            f"\n--- {log.name} (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-40:])
            for log in sorted(tmp_path.glob("serve-*.log"))
        )
        pytest.fail(f"network.mjs failed (exit {process.returncode}):\n{stdout}\n{stderr}{logs}", pytrace=False)

    for name in SCREENS:
        shot = out / "screens" / f"{name}.png"
        assert shot.exists(), f"no screenshot {shot.name}"
        assert _png_size(shot) == PHONE_SIZE, (shot.name, _png_size(shot))
    if os.environ.get("MITALK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in SCREENS:
            shutil.copyfile(out / "screens" / f"{name}.png", SCREENSHOTS / f"{name}.png")
