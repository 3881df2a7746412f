"""Sign-in refusals and the sessions screen in real headless Chromium against `mitalk serve`.

`web/e2e/sessions.mjs` (playwright-core driving Debian's chromium): a premium-rate number is
refused with words in all four languages and gets no text; a stranger's guesses without B's
ticket do not stop B from signing in; A's settings list the account's three sessions (this
browser, B's, a script's), A signs the script out (its token stops working) and then signs out
everywhere, after which B's page, without a reload, is back at the sign-in form because the
server closed its account socket. With one room socket per account, A's room opened in a second
tab closes the first tab's socket, which then says so (in four languages) and offers to follow
the room again. The screens at phone size land in the test's output folder,
and in docs/screenshots/ with MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 240  # seconds for the whole scenario, two browsers included
LANGUAGES = ["en", "de", "zh-Hans", "zh-Hant"]
SCREENS = [
    f"{screen}-{lang}"
    for screen in ("signin-not-mobile", "settings-sessions", "room-replaced")
    for lang in LANGUAGES
]


def test_sign_in_refusals_and_sessions_in_two_browsers(tmp_path: Path) -> None:
    """Not-a-mobile in four languages, a stranger's guesses, the sessions list, sign-outs."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    out = tmp_path / "out"
    # The script and B ask for codes right after A: no resend cool-down in this scenario; one
    # room socket per account, so that a second tab on a room replaces the first.
    limits = {"MITALK_CODE_RESEND_SECONDS": "0", "MITALK_ROOM_SOCKETS_PER_ACCOUNT": "1"}
    with live_server(data, **limits) as base:
        run_scenario("sessions.mjs", base, data, out, SCRIPT_TIMEOUT)
    check_and_publish(out, SCREENS)
