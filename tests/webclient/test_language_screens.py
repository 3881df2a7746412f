"""Every word in the person's language, the server's too, in real headless Chromium.

`web/e2e/language.mjs`: a browser speaking zh-TW signs in and gets its code in a Traditional
Chinese text message; a German browser's notice comes in German; after the app is switched to
Simplified Chinese, the next notice is Simplified Chinese. Onboarding's people step speaks of a
phone's contacts as the address book in Chinese. The German notices screen and the people step
in Traditional Chinese and German land in the output folder, and in docs/screenshots/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 180


def test_a_german_notice_and_a_traditional_chinese_text_message(tmp_path: Path) -> None:
    """The browser's language at sign-in, then the app's choice, for notices and texts."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario("language.mjs", base, data, out, SCRIPT_TIMEOUT)
    check_and_publish(out, ["notice-de", "onboarding-people-zh-Hant", "onboarding-people-de"])
