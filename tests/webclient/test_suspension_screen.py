"""Staff suspend an account from its person page, in real headless Chromium against
`mitalk serve`.

`web/e2e/suspend.mjs`: staff open a member's page, fill in the suspension form (shown in four
languages) and suspend for a day; the member's page, never reloaded, is back at the sign-in form
(every session ended, the account socket closed by the server); signing in again with the right
code, the page says the account is suspended, in each language; staff lift it and the member
signs in. Screens at phone size land in the output folder, and in docs/screenshots/ with
MITALK_UPDATE_SCREENSHOTS=1.

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server

SCRIPT_TIMEOUT = 240
LANGUAGES = ["en", "de", "zh-Hans", "zh-Hant"]
SCREENS = [
    *(f"suspend-form-{lang}" for lang in LANGUAGES),
    "suspend-active-en",
    *(f"signin-suspended-{lang}" for lang in LANGUAGES),
]


def test_staff_suspend_and_lift_from_a_person_page(tmp_path: Path) -> None:
    """The form in four languages, the member signed out live, refused in words, let back."""
    require_built_client()
    data = tmp_path / "data"
    out = tmp_path / "out"
    # The member asks for three codes within a minute: no resend cool-down in this scenario.
    with live_server(data, MITALK_CODE_RESEND_SECONDS="0") as base:
        run_scenario("suspend.mjs", base, data, out, SCRIPT_TIMEOUT)
    check_and_publish(out, SCREENS)
