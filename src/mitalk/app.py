"""The ASGI application: routers under /api/v1, health, metrics, errors, lifespan."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import text

from mitalk import __version__
from mitalk.access.claims import make_claim_desk
from mitalk.access.endpoints import router as access_router
from mitalk.accounts.endpoints import router as accounts_router
from mitalk.accounts.sms import SmsSender, make_sms_sender
from mitalk.core.database import Database, utcnow
from mitalk.core.errors import install_error_handlers
from mitalk.core.metrics import MetricsMiddleware
from mitalk.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from mitalk.core.settings import Settings, get_settings
from mitalk.media.endpoints import router as media_router
from mitalk.network.delivery import run_worker as run_sms_worker
from mitalk.network.endpoints import router as network_router
from mitalk.realtime.dependencies import make_bus
from mitalk.webclient.serving import default_web_dir
from mitalk.webclient.serving import router_for as web_client_router
from mitalk.realtime.account_socket import AccountHub
from mitalk.realtime.account_socket import router as account_socket_router
from mitalk.realtime.gateway import router as realtime_router
from mitalk.rooms.endpoints import hallway_router
from mitalk.rooms.endpoints import router as rooms_router
from mitalk.rooms.schedule import run_worker as run_schedule_worker
from mitalk.search.endpoints import router as search_router

API_PREFIX = "/api/v1"



def create_app(
    settings: Settings | None = None,
    *,
    sms: SmsSender | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> FastAPI:
    """Build the app; ``sms`` and ``clock`` can be given (tests), else come from settings."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.ensure_data_dir()
        app.state.db = Database(settings.resolved_database_url)
        # A blocking pool: in a rush, requests queue for a connection instead of failing.
        redis = (
            Redis(connection_pool=BlockingConnectionPool.from_url(settings.redis_url, max_connections=256, timeout=10))
            if settings.redis_url
            else None
        )
        app.state.redis = redis
        limiter: RateLimiter = RedisRateLimiter(redis) if redis else MemoryRateLimiter()
        app.state.rate_limiter = limiter
        app.state.sms = sms or make_sms_sender(settings)
        app.state.bus = make_bus(settings, redis)
        await app.state.bus.start()
        app.state.claim_desk = make_claim_desk(app.state.db, settings, redis, clock)
        await app.state.claim_desk.start()
        app.state.account_hub = AccountHub(app.state.db, app.state.bus, clock)
        await app.state.account_hub.start()
        app.state.media = None
        if settings.media == "managed":
            from mitalk.media.coordinator import start_media

            # Starts Janus and re-creates the stages of live rooms; fails loudly if it cannot.
            app.state.media = await start_media(settings, app.state.db, app.state.bus)
        stop_workers = asyncio.Event()
        workers = []
        if settings.run_workers:
            workers.append(asyncio.create_task(run_sms_worker(app.state.db, app.state.sms, stop_workers)))
            workers.append(
                asyncio.create_task(
                    run_schedule_worker(app.state.db, settings, app.state.bus, stop_workers, clock)
                )
            )
        try:
            yield
        finally:
            stop_workers.set()
            await app.state.account_hub.stop()
            await app.state.claim_desk.close()
            await asyncio.gather(*workers, return_exceptions=True)
            if app.state.media is not None:
                await app.state.media.stop()
            await app.state.bus.close()
            await app.state.db.dispose()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="Mi Talk",
        version=__version__,
        description="Live audio rooms for professionals. Errors are always "
        '`{"error": {"code", "message"}}`.',
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    install_error_handlers(app)
    for router in (accounts_router, access_router, network_router, search_router, hallway_router):
        app.include_router(router, prefix=API_PREFIX)
    for router in (rooms_router, realtime_router, account_socket_router, media_router):
        app.include_router(router, prefix=API_PREFIX)

    app.add_middleware(MetricsMiddleware)

    @app.get("/healthz", tags=["operations"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when this node can serve (database and media engine reachable), else 503 with why."""
        checks: dict[str, str] = {}
        try:
            async with request.app.state.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if request.app.state.redis is not None:
            try:
                await request.app.state.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"unreachable: {type(exc).__name__}"
        if getattr(request.app.state, "media", None) is not None:
            checks["media"] = await request.app.state.media.health()
        healthy = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", "checks": checks}
        if not healthy:
            reason = "; ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
            body["error"] = {"code": "unavailable", "message": reason}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    # Last: every path the API does not own belongs to the web client.
    app.include_router(web_client_router(settings.web_dir or default_web_dir()))

    return app
