"""Onboarding before the first hand, in real headless Chromium against a real `mitalk serve`.

`web/e2e/onboarding.mjs` signs a newcomer in through the UI and opens a room link: onboarding
comes first (the server refuses a hand without a name, 409 name_required), then the name, a
headline, a topic picked among those people talk about, following a suggested person, and the
room, where the first hand reaches the moderator with the newcomer's name. Screens at phone
size land in the test's output folder, and in docs/screenshots/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 180
SCREENS = ["onboarding-name", "onboarding-topics", "onboarding-people"]


def test_onboarding_comes_before_the_first_hand(tmp_path: Path) -> None:
    """Name required, the rest skippable; topics and people to follow; then the room."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario("onboarding.mjs", base, data, out, SCRIPT_TIMEOUT)
    check_and_publish(out, SCREENS)
