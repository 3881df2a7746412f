"""A room's share link, in real headless Chromium against a real `mitalk serve`.

`web/e2e/share.mjs`: a link-preview bot reads an open room's title and a German line from
/rooms/ID (its Accept-Language) and nothing from a closed room's link; a signed-in person who
opens the link in Chromium lands in the room (#/room/ID, its title on the screen).

Missing node, chromium, playwright-core or the built client fail the test: never skipped.
"""

from __future__ import annotations

from pathlib import Path

from browser import require_built_client, run_scenario
from live import live_server, run_cli

SCRIPT_TIMEOUT = 180


def test_a_share_link_previews_the_room_and_opens_it(tmp_path: Path) -> None:
    """The preview for bots, the room for people, nothing for a closed room."""
    require_built_client()
    data = tmp_path / "data"
    opened = run_cli(data, "admin", "phase", "open")
    assert opened.returncode == 0, opened.stderr
    with live_server(data) as base:
        run_scenario("share.mjs", base, data, tmp_path / "out", SCRIPT_TIMEOUT)
