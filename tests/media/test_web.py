"""The web client in real headless Chromium against a real `mitalk serve` and its managed Janus.

The node scripts in web/e2e (playwright-core driving Debian's chromium) do what people do:
sign in through the UI, start and join rooms, speak through a fake microphone playing a tone,
raise hands, bring people on stage, end rooms, wait in the waiting room while the operator
drops passes. What a page hears is read from its own RTCPeerConnections' getStats() and a
WebAudio analyser. They run inside the media tests' network namespace (children of this
thread), so the browsers, the server and Janus talk over the namespace's addresses only.

Each script prints every step it waits for; a step that times out fails with what it waited
for and a screenshot of that person's page. The screens of the app at phone size land in the
test's output folder, and in docs/screenshots/ with MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the tests: never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from live import MITALK, live_server, mitalk_env, run_cli
from mitalk.media.audio import tone, write_wav

from .conftest import Netns

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
JANUS_API_PORT = 8588  # 8188 package, 8288 supervisor, 8388 served, 8488 serve-defaults
RTP_PORT_RANGE = "24000-24999"
HZ_A, HZ_B = 440.0, 660.0
SCRIPT_TIMEOUT = 180  # seconds for one scenario, browsers included
PHONE_SIZE = (780, 1688)  # 390 x 844 CSS pixels at device scale factor 2


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("the browser tests need Debian's `chromium` on PATH (apt-get install chromium)", pytrace=False)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("the browser tests need `node` on PATH (apt-get install nodejs npm)", pytrace=False)
    if not (WEB / "node_modules" / "playwright-core" / "package.json").exists():
        pytest.fail("web/node_modules has no playwright-core: run `cd web && npm ci`", pytrace=False)
    return node


@pytest.fixture(scope="module")
def web_server(netns: Netns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`mitalk serve` with its managed Janus and the built web client, in the namespace."""
    if not (WEB / "dist" / "index.html").exists():
        pytest.fail("web/dist is not built: run `bash scripts/setup.sh` (or `cd web && npm ci && npm run build`)", pytrace=False)
    data = tmp_path_factory.mktemp("web-served") / "data"
    migrated = run_cli(data, "admin", "phase", "open")
    assert migrated.returncode == 0, migrated.stderr
    extra = {
        "MITALK_MEDIA": "managed",
        "MITALK_JANUS_API_PORT": str(JANUS_API_PORT),
        "MITALK_JANUS_RTP_PORT_RANGE": RTP_PORT_RANGE,
    }
    with live_server(data, **extra) as base:
        yield base, data


def test_the_server_serves_the_app(web_server: tuple[str, Path]) -> None:
    base, _ = web_server
    for path in ("/", "/hallway"):  # a client-side route answers the same page
        page = httpx.get(f"{base}{path}", timeout=10)
        assert page.status_code == 200, (path, page.status_code)
        assert page.headers["content-type"].startswith("text/html"), page.headers
        assert '<script type="module"' in page.text, page.text[:500]


def _run_scenario(script: str, base: str, data: Path, out: Path, **extra: object) -> None:
    """Run web/e2e/<script> with a config file; fail with its output if it fails."""
    node, chromium = _node(), _chromium()
    config = {
        "base": base,
        "outbox": str(data / "sms-outbox.jsonl"),
        "outDir": str(out),
        "chromium": chromium,
        "mitalk": MITALK,
        **extra,
    }
    config_file = out / f"{script}.json"
    out.mkdir(parents=True, exist_ok=True)
    config_file.write_text(json.dumps(config, indent=2))
    # A session of its own, so a timeout ends node and every browser it started together.
    process = subprocess.Popen(
        [node, str(WEB / "e2e" / script), str(config_file)],
        env=mitalk_env(data), cwd=WEB, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{script} ran longer than {SCRIPT_TIMEOUT}s:\n{stdout}\n{stderr}", pytrace=False)
    print(stdout)
    if process.returncode != 0:
        # The server's own lines (its calls to the Janus API would drown them).
        logs = "".join(
            f"\n--- {log.name} (last lines, Janus API calls left out) ---\n"
            + "\n".join([line for line in log.read_text().splitlines() if "HTTP Request:" not in line][-40:])
            for log in sorted(data.parent.glob("serve-*.log"))
        )
        pytest.fail(
            f"{script} failed (exit {process.returncode}):\n{stdout}\n{stderr}{logs}", pytrace=False
        )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def _check_and_publish(out: Path, names: list[str]) -> None:
    """The screens exist at phone size; copy them into docs/ when asked to."""
    for name in names:
        shot = out / "screens" / f"{name}.png"
        assert shot.exists(), f"no screenshot {shot.name}"
        assert _png_size(shot) == PHONE_SIZE, (shot.name, _png_size(shot))
    if os.environ.get("MITALK_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(out / "screens" / f"{name}.png", SCREENSHOTS / f"{name}.png")


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The fake microphones' sound: a steady tone each, 440 Hz for A and 660 Hz for B."""
    folder = tmp_path_factory.mktemp("tones")
    files: dict[str, object] = {"hzA": HZ_A, "hzB": HZ_B}
    for key, hz in (("toneA", HZ_A), ("toneB", HZ_B)):
        path = folder / f"tone-{int(hz)}.wav"
        write_wav(path, tone(hz, 10.0), 48000)
        files[key] = str(path)
    return files


def test_a_room_in_two_browsers(
    web_server: tuple[str, Path], tones: dict[str, object], tmp_path: Path
) -> None:
    """A starts a room and is heard by B; B is brought on stage and heard by A; A ends it."""
    base, data = web_server
    _run_scenario("room.mjs", base, data, tmp_path, **tones)
    _check_and_publish(
        tmp_path,
        ["signin-phone", "signin-code", "hallway", "room-listener", "room-moderator",
         "room-moderator-menu", "profile", "invites"],
    )


def test_waiting_room_follows_the_operators_drops(web_server: tuple[str, Path], tmp_path: Path) -> None:
    """C waits behind D; each drop moves C's shown position without a reload, then admits C."""
    base, data = web_server
    _run_scenario("waitlist.mjs", base, data, tmp_path)
    _check_and_publish(tmp_path, ["waiting-room", "waiting-room-zh-Hans"])
