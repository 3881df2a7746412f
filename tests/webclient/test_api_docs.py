"""The interactive API docs at /api/docs: served with their assets from this app, no script
from another origin, a Content-Security-Policy as tight as Swagger UI allows."""

from __future__ import annotations

import re
from pathlib import Path

from httpx import AsyncClient

from browser import require_built_client, run_scenario
from live import live_server


async def test_the_docs_page_loads_only_this_servers_scripts(client: AsyncClient) -> None:
    require_built_client()
    page = await client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all(re.search(r'src="/[^/]', attrs) for attrs in scripts)  # no inline
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from another origin
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp and "*" not in csp
    for src in re.findall(r'(?:src|href)="(/[^"]+)"', html):
        asset = await client.get(src)
        assert asset.status_code == 200, src
        assert len(asset.content) > 100, src


def test_the_docs_render_in_a_browser_from_this_origin_only(tmp_path: Path) -> None:
    """Real headless Chromium: the operations render, every request stays on this origin and
    the CSP blocks nothing (web/e2e/apidocs.mjs)."""
    require_built_client()
    data = tmp_path / "data"
    with live_server(data) as base:
        run_scenario("apidocs.mjs", base, data, tmp_path / "out", 120)
