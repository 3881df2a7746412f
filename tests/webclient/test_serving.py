"""`mitalk serve` serves the built web client at `/`: files, the SPA fallback, caching, CSP."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient

from mitalk.app import create_app
from mitalk.core.settings import Settings


def _built(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Mi Talk</title>")
    (root / "assets" / "index-3f2a9c.js").write_text("console.log('app')")
    (root / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (root / "manifest.webmanifest").write_text('{"name": "Mi Talk"}')
    for name in ("index.html", "assets/index-3f2a9c.js"):
        (root / f"{name}.gz").write_bytes(gzip.compress((root / name).read_bytes()))
    (root.parent / "secret.txt").write_text("outside the web dir")
    return root


async def _client(tmp_path: Path, web_dir: Path) -> AsyncIterator[AsyncClient]:
    settings = Settings(
        data_dir=tmp_path / "data", secret_key="k", media="off", run_workers=False, web_dir=web_dir
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://mitalk.test") as c,
    ):
        yield c


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    async for c in _client(tmp_path, _built(tmp_path / "web" / "dist")):
        yield c


async def test_the_shell_and_client_routes_answer_the_page_with_a_strict_policy(
    web: AsyncClient,
) -> None:
    for path in ("/", "/hallway", "/people/abc123", "/index.html"):
        response = await web.get(path)
        assert response.status_code == 200, path
        assert response.text.startswith("<!doctype html>")
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "microphone=(self)" in response.headers["permissions-policy"]


async def test_hashed_assets_are_cached_and_the_shell_files_revalidated(web: AsyncClient) -> None:
    asset = await web.get("/assets/index-3f2a9c.js")
    assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
    assert "javascript" in asset.headers["content-type"]
    worker = await web.get("/sw.js")
    assert (
        worker.headers["cache-control"] == "no-cache"
        and worker.headers["service-worker-allowed"] == "/"
    )
    manifest = await web.get("/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")


async def test_missing_files_and_api_paths_are_not_answered_with_the_page(web: AsyncClient) -> None:
    assert (await web.get("/assets/index-old.js")).status_code == 404
    assert (await web.get("/favicon-gone.png")).status_code == 404
    api = await web.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert (await web.get("/healthz")).json()["status"] == "ok"  # the real route still wins


async def test_nothing_outside_the_web_dir_is_served(web: AsyncClient) -> None:
    for raw in ("/%2e%2e/secret.txt", "/..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"):
        response = await web.get(raw)
        assert "outside the web dir" not in response.text, raw


async def test_an_unbuilt_client_says_how_to_build_it(tmp_path: Path) -> None:
    async for c in _client(tmp_path, tmp_path / "nowhere"):
        response = await c.get("/")
        assert response.status_code == 503 and "scripts/setup.sh" in response.text


async def test_browsers_that_take_gzip_get_the_build_s_compressed_copies(web: AsyncClient) -> None:
    for path, start in (
        ("/assets/index-3f2a9c.js", "console.log"),
        ("/", "<!doctype html>"),
        ("/hallway", "<!doctype"),
    ):
        zipped = await web.get(path, headers={"Accept-Encoding": "gzip"})
        assert (
            zipped.headers["content-encoding"] == "gzip"
            and zipped.headers["vary"] == "Accept-Encoding"
        )
        assert zipped.text.startswith(start)  # httpx decompressed it: it really was gzip
        plain = await web.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.text == zipped.text
    worker = await web.get("/sw.js", headers={"Accept-Encoding": "gzip"})  # no .gz twin: sent as is
    assert "content-encoding" not in worker.headers
