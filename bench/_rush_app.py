"""The Mi Talk app plus one bare endpoint, so the rush compares claims with the same stack.

``POST /bench/bare`` reads the same headers as a claim and answers the same body, without
touching the database: the ceiling that HTTP, the middleware and the framework allow here.
"""

from __future__ import annotations

from fastapi import FastAPI

from mitalk.app import create_app


def create() -> FastAPI:
    """The app as `mitalk serve` builds it, with the bare endpoint added."""
    app = create_app()

    @app.post("/bench/bare")
    async def bare() -> dict[str, str]:
        return {"status": "granted"}

    return app
