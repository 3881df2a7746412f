"""Invites that reach people, in real headless Chromium against a real `mitalk serve`.

`web/e2e/invites.mjs`: a member invites four numbers with the app in each of the four
languages; each number gets a text message in its country's language (or the member's, for a
country that speaks none of ours), the screen says the invite went out, a landline is refused
in the invites screen's own words, and the last invite leaves a note that none are left. The
screens at 390 px land in the output folder, and in docs/screenshots/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 240
SCREENS = [f"invites-sent-{lang}" for lang in ("en", "de", "zh-Hans", "zh-Hant")]


def test_invited_numbers_get_a_text_in_their_language(tmp_path: Path) -> None:
    """Texts in the number's country's language; the screen's notes in the app's."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario("invites.mjs", base, data, out, SCRIPT_TIMEOUT)
    check_and_publish(out, [*SCREENS, "invites-none-left-en"])
