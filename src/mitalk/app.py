"""The ASGI application: routers under /api/v1, health, metrics, errors, lifespan."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
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
from mitalk.access.endpoints import claim_route
from mitalk.access.endpoints import router as access_router
from mitalk.access.errors import OperatorOnly
from mitalk.access.service import ADMISSION
from mitalk.accounts.service import session_checker
from mitalk.accounts.sms import SmsSender, make_sms_sender
from mitalk.core.bodies import JSON_BODY_MAX_BYTES, BodyRule, RequestBodyGuard
from mitalk.core.database import Database, utcnow
from mitalk.core.errors import install_error_handlers
from mitalk.core.gc_freeze import FreezeAfterFullCollections
from mitalk.core.metrics import MetricsMiddleware
from mitalk.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from mitalk.core.security import tokens_match
from mitalk.core.settings import Settings, get_settings
from mitalk.front.caddy import managed_caddy
from mitalk.front.hsts import HstsMiddleware
from mitalk.me.endpoints import router as accounts_router
from mitalk.me.ws import AccountHub
from mitalk.me.ws import router as account_socket_router
from mitalk.media.coordinator import start_media
from mitalk.media.endpoints import router as media_router
from mitalk.media.pool import PoolCoordinator
from mitalk.network.endpoints import router as network_router
from mitalk.network.errors import AvatarTooLarge
from mitalk.network.schemas import AVATAR_UPLOAD_MAX_BYTES, CONTACTS_BODY_MAX_BYTES
from mitalk.notifications.delivery import run_worker as run_sms_worker
from mitalk.notifications.endpoints import router as notifications_router
from mitalk.realtime.dependencies import make_bus
from mitalk.realtime.endpoints import router as realtime_router
from mitalk.realtime.sockets import SocketRegistry
from mitalk.rooms.endpoints import hallway_router
from mitalk.rooms.endpoints import router as rooms_router
from mitalk.rooms.followers import follow_accounts, follow_network
from mitalk.rooms.schedule import run_worker as run_schedule_worker
from mitalk.rooms.share import router_for as room_share_router
from mitalk.rooms.ws import router as room_socket_router
from mitalk.search.endpoints import router as search_router
from mitalk.webclient.serving import api_docs_router, default_web_dir
from mitalk.webclient.serving import router_for as web_client_router

API_PREFIX = "/api/v1"

log = logging.getLogger(__name__)


def _url(host: str, port: int) -> str:
    """How a browser on this machine reaches ``host:port`` (brackets around IPv6 addresses)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"



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
        freezer = FreezeAfterFullCollections() if settings.gc_freeze else None
        if freezer:
            freezer.install()
        app.state.db = Database(settings.resolved_database_url)
        # A blocking pool: in a rush, requests queue for a connection instead of failing.
        redis = (
            Redis(
                connection_pool=BlockingConnectionPool.from_url(
                    settings.redis_url, max_connections=256, timeout=10
                )
            )
            if settings.redis_url
            else None
        )
        app.state.redis = redis
        limiter: RateLimiter = RedisRateLimiter(redis) if redis else MemoryRateLimiter()
        app.state.rate_limiter = limiter
        app.state.sms = sms or make_sms_sender(settings)
        app.state.bus = make_bus(settings, redis)
        app.state.sockets = SocketRegistry(
            app.state.bus,
            redis,
            {
                "room": settings.room_sockets_per_account,
                "account": settings.account_sockets_per_account,
            },
            live_sessions=session_checker(app.state.db, clock),
            sweep_seconds=settings.socket_sweep_seconds,
        )
        app.state.sockets.start()
        follow_network(app.state.bus, app.state.db)
        follow_accounts(app.state.bus, app.state.db)
        await app.state.bus.start()
        app.state.claim_desk = make_claim_desk(
            app.state.db, settings, redis, clock, app.state.bus
        )
        await app.state.claim_desk.start()
        app.state.account_hub = AccountHub(app.state.db, app.state.bus, clock)
        await app.state.account_hub.start()
        app.state.front = None
        if settings.managed_tls:
            # Caddy in front (TLS, certificates, HTTP redirects); fails loudly if it cannot start.
            app.state.front = managed_caddy(settings)
            await app.state.front.start()
        app.state.media = None
        if settings.node_role == "api" and settings.media != "off":
            if redis is None:
                raise RuntimeError("an API node (MITALK_NODE_ROLE=api) needs MITALK_REDIS_URL")
            # No Janus here: rooms go to the media nodes registered in Redis.
            app.state.media = PoolCoordinator(settings, app.state.db, app.state.bus, redis)
            await app.state.media.start()
        elif settings.media == "managed" and settings.node_role == "all":
            # Starts Janus and re-creates the stages of live rooms; fails loudly if it cannot.
            app.state.media = await start_media(settings, app.state.db, app.state.bus)
        stop_workers = asyncio.Event()
        workers = []
        if settings.run_workers:
            workers.append(
                asyncio.create_task(run_sms_worker(app.state.db, app.state.sms, stop_workers))
            )
            workers.append(
                asyncio.create_task(
                    run_schedule_worker(app.state.db, settings, app.state.bus, stop_workers, clock)
                )
            )
        log.info(
            "mitalk serving %s (data dir %s, %s database, media %s)",
            f"{settings.public_url} (through {_url(settings.host, settings.port)})"
            if settings.public_url
            else _url(settings.host, settings.port),
            settings.data_dir,
            "SQLite" if settings.is_sqlite else "PostgreSQL",
            settings.media,
        )
        try:
            yield
        finally:
            log.info("mitalk stopping")
            stop_workers.set()
            await app.state.account_hub.stop()
            await app.state.sockets.stop()
            await app.state.claim_desk.close()
            await asyncio.gather(*workers, return_exceptions=True)
            if app.state.media is not None:
                await app.state.media.stop()
            if app.state.front is not None:
                await app.state.front.stop()
            await app.state.bus.close()
            await app.state.db.dispose()
            if redis is not None:
                await redis.aclose()
            if freezer:
                freezer.remove()

    app = FastAPI(
        title="Mi Talk",
        version=__version__,
        description="Live audio rooms for professionals. Errors are always "
        '`{"error": {"code", "message"}}`.',
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served below with its assets from this app (webclient/serving.py)
        redoc_url=None,
        lifespan=lifespan,
        # Mi Talk measures itself with Prometheus (/metrics), not OpenTelemetry: without this
        # FastAPI asks OpenTelemetry for its providers on every request (a few % of a request's
        # CPU in the rush profile) to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.admission = ADMISSION
    install_error_handlers(app)
    for router in (
        accounts_router,
        access_router,
        network_router,
        notifications_router,
        search_router,
        hallway_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    for router in (
        rooms_router,
        room_socket_router,
        realtime_router,
        account_socket_router,
        media_router,
    ):
        app.include_router(router, prefix=API_PREFIX)

    # The launch's hottest route, matched first and served without FastAPI's per-request work
    # (access/endpoints.py, ClaimEndpoint); the route declared above documents it.
    app.router.routes.insert(0, claim_route(API_PREFIX))

    # Every body is read within its limit and deadline before a route sees the request
    # (core/bodies.py); the avatar upload streams through the same checks.
    body_timeout = settings.request_body_timeout_seconds
    app.add_middleware(
        RequestBodyGuard,
        default=BodyRule(JSON_BODY_MAX_BYTES, body_timeout),
        routes={
            f"{API_PREFIX}/me/avatar": BodyRule(
                AVATAR_UPLOAD_MAX_BYTES,
                settings.upload_timeout_seconds,
                streamed=True,
                too_large=AvatarTooLarge,
            ),
            f"{API_PREFIX}/me/contacts": BodyRule(CONTACTS_BODY_MAX_BYTES, body_timeout),
        },
    )
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(HstsMiddleware, max_age=settings.hsts_max_age)

    @app.get("/healthz", tags=["operations"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when this node can serve (database, Redis, media, TURN), else 503 and why."""
        checks: dict[str, str] = {}
        try:
            # A read outside any transaction: never queued behind a writer (SQLite's lock).
            async with request.app.state.db.read_sessions() as probe:
                await probe.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks["database"] = f"unreachable: {type(exc).__name__}"
        if request.app.state.redis is not None:
            try:
                await request.app.state.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"unreachable: {type(exc).__name__}"
        media = getattr(request.app.state, "media", None)
        if media is not None:
            checks["media"] = await media.health()
            if media.turn_server is not None:  # the managed coturn (MITALK_TURN=managed)
                checks["turn"] = media.turn_server.health()
        healthy = all(v == "ok" for v in checks.values())
        body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", "checks": checks}
        if not healthy:
            reason = "; ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
            body["error"] = {"code": "unavailable", "message": reason}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics, for the operator only: ``Authorization: Bearer`` with
        MITALK_OPERATOR_TOKEN (unset: nobody). Route names and counts say what people do."""
        expected = request.app.state.settings.operator_token
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if (
            expected is None
            or scheme.lower() != "bearer"
            or not tokens_match(expected.get_secret_value(), token.strip())
        ):
            raise OperatorOnly()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    web_dir = settings.web_dir or default_web_dir()
    app.include_router(api_docs_router(web_dir))
    # A room's share link: the client's page with a link preview (rooms/share.py).
    app.include_router(room_share_router(web_dir))
    # Last: every path the API does not own belongs to the web client.
    app.include_router(web_client_router(web_dir))

    return app
