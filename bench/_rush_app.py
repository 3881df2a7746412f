"""The Mi Talk app plus two bare endpoints, so the rush compares claims with the same stack.

``POST /bench/bare`` reads the same headers as a claim and answers the same body, without
touching the database: a FastAPI route added after the app's own (the baseline of the rush
issues: the ceiling that HTTP, the middleware and the framework allow here).

``POST /bench/plain`` answers the same body from a plain Starlette route put first in the app's
routes, as the claim route is (``access.endpoints.claim_route``): no route walk, no dependency
solving, only uvicorn and the middleware. Claims against it say what a claim's own work costs.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mitalk.app import create_app

BODY = b'{"status":"granted"}'
HEADERS = [(b"content-length", str(len(BODY)).encode()), (b"content-type", b"application/json")]


class Plain:
    """The same answer as a granted claim, with nothing in between (an ASGI app: Starlette
    would wrap a plain function as a request handler)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})


def create() -> FastAPI:
    """The app as `mitalk serve` builds it, with the bare endpoints added."""
    app = create_app()

    @app.post("/bench/bare")
    async def bare() -> dict[str, str]:
        return {"status": "granted"}

    app.router.routes.insert(0, Route("/bench/plain", Plain(), methods=["POST"]))
    return app
