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

from pathlib import Path

from PIL import Image, ImageDraw

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 240  # seconds for the whole scenario, two browsers included
SCREENS = [
    "profile-editor",
    "search",
    "person",
    "notifications",
    "connections",
    "hallway-upcoming",
    "room-person-menu",
    "card",
]


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


def test_network_screens_in_two_browsers(tmp_path: Path) -> None:
    """Profile, search, person page, live notifications, connections, blocks, upcoming rooms."""
    require_built_client()

    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario(
            "network.mjs",
            base,
            data,
            out,
            SCRIPT_TIMEOUT,
            avatar=str(_avatar_png(tmp_path / "avatar.png")),
        )
    check_and_publish(out, SCREENS)
