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

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli
from mitalk.media.audio import tone, write_wav

from .conftest import Netns

JANUS_API_PORT = 8588  # 8188 package, 8288 supervisor, 8388 served, 8488 serve-defaults
RTP_PORT_RANGE = "24000-24999"
HZ_A, HZ_B = 440.0, 660.0
SCRIPT_TIMEOUT = 180  # seconds for one scenario, browsers included


@pytest.fixture(scope="module")
def web_server(
    netns: Netns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`mitalk serve` with its managed Janus and the built web client, in the namespace."""
    require_built_client()
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
    run_scenario("room.mjs", base, data, tmp_path, SCRIPT_TIMEOUT, **tones)
    check_and_publish(
        tmp_path,
        ["signin-phone", "signin-code", "hallway", "room-listener", "room-moderator",
         "room-moderator-menu", "profile", "invites"],
    )


def test_waiting_room_follows_the_operators_drops(
    web_server: tuple[str, Path], tmp_path: Path
) -> None:
    """C waits behind D; each drop moves C's shown position without a reload, then admits C."""
    base, data = web_server
    run_scenario("waitlist.mjs", base, data, tmp_path, SCRIPT_TIMEOUT)
    check_and_publish(tmp_path, ["waiting-room", "waiting-room-zh-Hans"])
