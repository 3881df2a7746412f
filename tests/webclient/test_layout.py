"""The layout of every screen × language × phone width, in real headless Chromium.

`web/e2e/layout.mjs` opens sign-in, the waiting room, onboarding, the hallway, a room as its
moderator, a speaker and a listener (each with a person's menu open), the profile, the network,
search, invites and notifications, in en, de, zh-Hans and zh-Hant, at 320, 360, 390 and 430 px
wide, against a real `mitalk serve` (no media) with long real-looking names and titles. Each
layout must have no horizontal overflow, every control inside the screen (across, and down too
when fixed to the screen) and no Latin word broken mid-word; the script lists every problem.
The 390 px screens land in the output folder, and in docs/screenshots/layout/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from browser import SCREENSHOTS, png_size, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 600  # 192 layouts, 48 page loads, on a shared 2-core machine
SCREENS = [
    "signin", "waiting", "onboarding", "hallway", "room-moderator", "room-speaker",
    "room-listener", "profile", "network", "search", "invites", "notifications",
]
LANGUAGES = ["en", "de", "zh-Hans", "zh-Hant"]


def test_every_screen_fits_every_phone_in_every_language(tmp_path: Path) -> None:
    """No overflow, every control reachable, no word broken: 12 screens x 4 languages x 4 widths."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario("layout.mjs", base, data, out, SCRIPT_TIMEOUT)
    shots = [out / "screens" / f"layout-{s}-{lang}.png" for s in SCREENS for lang in LANGUAGES]
    for shot in shots:
        assert shot.exists(), f"no screenshot {shot.name}"
        assert png_size(shot) == (390, 844), (shot.name, png_size(shot))
    if os.environ.get("MITALK_UPDATE_SCREENSHOTS") == "1":
        folder = SCREENSHOTS / "layout"
        folder.mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copyfile(shot, folder / shot.name.removeprefix("layout-"))
