"""Serve the built web client (``web/dist``) at ``/``, as a single-page app.

Files that exist are served as they are; any other path that is not the API's answers
``index.html`` (the client routes it). Hashed build assets are cached for a year; the shell
(``index.html``, the service worker, the manifest) is revalidated on every load so a new
release reaches people at once. Browsers that take gzip get the copies the build compressed
once (``name.js.gz``), never compressed per request. Every page carries a strict
Content-Security-Policy: the build has no inline script, and the only places it talks to are
this origin's API and its WebSockets.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

CONTENT_SECURITY_POLICY = "; ".join(  # noqa: FLY002 - one directive a line reads better
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
# Paths that belong to the service, never to the client's router.
RESERVED_PREFIXES = ("api/", "healthz", "metrics")
NOT_BUILT = (
    "The web client is not built. Run `bash scripts/setup.sh` (it builds web/dist), "
    "or set MITALK_WEB_DIR to a built copy.\n"
)


def default_web_dir() -> Path:
    """``web/dist`` of the checkout this package runs from (an editable install)."""
    return Path(__file__).resolve().parents[3] / "web" / "dist"


def _headers(path: Path, root: Path) -> dict[str, str]:
    relative = path.relative_to(root).as_posix()
    headers = dict(SECURITY_HEADERS)
    headers["Cache-Control"] = IMMUTABLE if relative.startswith("assets/") else REVALIDATE
    if relative == "sw.js":
        headers["Service-Worker-Allowed"] = "/"
    return headers


def _media_type(path: Path) -> str | None:
    if path.suffix == ".webmanifest":
        return "application/manifest+json"
    if path.suffix == ".html":
        return "text/html"
    return mimetypes.guess_type(path.name)[0]


def _send(path: Path, root: Path, request: Request) -> FileResponse:
    """The file, or its gzipped twin (written by the client's build) when the browser takes gzip."""
    headers = _headers(path, root)
    headers["Vary"] = "Accept-Encoding"
    compressed = path.with_name(path.name + ".gz")
    if "gzip" in request.headers.get("accept-encoding", "").lower() and compressed.is_file():
        headers["Content-Encoding"] = "gzip"
        return FileResponse(compressed, headers=headers, media_type=_media_type(path))
    return FileResponse(path, headers=headers, media_type=_media_type(path))


# The interactive API docs: Swagger UI from the client's build (web/dist/apidocs/, copied from
# the swagger-ui-dist package), never a script from another origin. Swagger UI styles its
# elements with style attributes, so this page alone allows inline styles; no inline script.
API_DOCS_CSP = "; ".join(  # noqa: FLY002
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
API_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mi Talk API</title>
<link rel="stylesheet" href="/apidocs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/apidocs/swagger-ui-bundle.js"></script>
<script src="/apidocs/init.js"></script>
</body>
</html>
"""


def api_docs_router(web_dir: Path) -> APIRouter:
    """``GET /api/docs``: the interactive API docs, with assets served by this app."""
    router = APIRouter(include_in_schema=False)
    bundle = web_dir.resolve() / "apidocs" / "swagger-ui-bundle.js"

    @router.get("/api/docs")
    async def api_docs() -> Response:
        if not bundle.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": API_DOCS_CSP}
        headers["Cache-Control"] = REVALIDATE
        return Response(API_DOCS_PAGE, media_type="text/html", headers=headers)

    return router


def router_for(web_dir: Path) -> APIRouter:
    """Routes serving the client from ``web_dir``; registered after every API route."""
    router = APIRouter(include_in_schema=False)
    root = web_dir.resolve()

    @router.get("/{path:path}")
    async def web_client(path: str, request: Request) -> Response:
        if path.startswith(RESERVED_PREFIXES):
            return JSONResponse(
                {"error": {"code": "not_found", "message": "No such endpoint."}}, status_code=404
            )
        index = root / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        if path:
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return _send(candidate, root, request)
            if path.startswith("assets/") or "." in path.rsplit("/", 1)[-1]:
                # A missing file (an old asset after a release): never answer it with the page.
                return PlainTextResponse("Not found.\n", status_code=404, headers=SECURITY_HEADERS)
        return _send(index, root, request)

    return router
