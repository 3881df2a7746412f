"""The ``mitalk`` command: serve, database, and operator commands.

Each command imports the parts of Mi Talk it uses inside its own function, on purpose: the
command starts (and ``mitalk --help`` answers) without loading the app, uvicorn and every
context it does not need; an operator's ``mitalk admin …`` stays quick.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.errors import AppError
from mitalk.core.settings import Settings, get_settings
from mitalk.media.bot_cli import bot_app

T = TypeVar("T")

app = typer.Typer(help="Mi Talk: live audio rooms for professionals.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
admin_app = typer.Typer(
    help="Operate a deployment (named by the same MITALK_ settings as serve).", no_args_is_help=True
)
staff_app = typer.Typer(
    help="The staff list: staff may enter in every phase.", no_args_is_help=True
)
invites_app = typer.Typer(help="Members' invites.", no_args_is_help=True)
passes_app = typer.Typer(help="Let waitlisters in: drops and claim windows.", no_args_is_help=True)
waitlist_app = typer.Typer(help="The waitlist.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
admin_app.add_typer(staff_app, name="staff")
admin_app.add_typer(invites_app, name="invites")
admin_app.add_typer(passes_app, name="passes")
admin_app.add_typer(waitlist_app, name="waitlist")
app.add_typer(bot_app, name="bot")


def fail(message: str, code: int = 1) -> None:
    """Print an error for people (no traceback) and exit."""
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def run_in_transaction(work: Callable[[AsyncSession, Settings], Awaitable[T]]) -> T:
    """Migrate the database if needed, then run ``work`` in one committed transaction."""
    settings = get_settings()

    async def main() -> T:
        from mitalk.core.migrate import upgrade

        settings.ensure_data_dir()
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            async with unit_of_work(db) as session:
                return await work(session, settings)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        fail(exc.message)
        raise AssertionError("unreachable") from exc
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
        raise AssertionError("unreachable") from exc


def parse_phone(raw: str) -> str:
    """A phone number argument in E.164, or exit 2 with the reason."""
    from mitalk.accounts.phones import normalize_phone

    try:
        return normalize_phone(raw, get_settings().default_region)
    except AppError as exc:
        fail(f"{raw!r}: {exc.message}", 2)
        raise AssertionError("unreachable") from exc


def parse_time(raw: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 time (UTC if it names no zone), or exit 2."""
    if raw is None:
        return None
    try:
        value = dt.datetime.fromisoformat(raw)
    except ValueError:
        fail(f"{name} {raw!r} is not an ISO 8601 time, e.g. 2026-12-01T18:00:00+01:00", 2)
        raise AssertionError("unreachable") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="API processes (needs Redis, media off).")
    ] = 1,
) -> None:
    """Run everything on this machine: migrate the database, then serve the API.

    A port set explicitly (``--port``, ``MITALK_PORT``, ``MITALK_JANUS_API_PORT``,
    ``MITALK_JANUS_RTP_PORT_RANGE``) that is in use stops the start with one line saying so;
    a default one in use is replaced by a free one, and the log says which.
    """
    import uvicorn

    from mitalk.app import create_app
    from mitalk.core.http_protocol import GuardedHttpProtocol
    from mitalk.core.logging import configure_logging
    from mitalk.core.migrate import current_revision, upgrade
    from mitalk.core.ports import StartupError
    from mitalk.core.ws_protocol import DirectWebSocketProtocol

    # Everything this process and its children (Janus, Caddy, coturn) create is private to
    # the service's user: the database, keys, the SMS outbox, generated configuration.
    os.umask(0o077)
    settings = get_settings()
    # The options win over MITALK_HOST/PORT everywhere, also in the managed Caddy's upstream.
    settings = settings.model_copy(
        update={k: v for k, v in (("host", host), ("port", port)) if v is not None}
    )
    configure_logging(settings.log_level, settings.log_format)
    log = logging.getLogger("mitalk.serve")
    settings.ensure_data_dir()
    if workers > 1 and not settings.redis_url:
        # Claim desks, rate limits and events would each see only their own process.
        fail("several workers share state through Redis: set MITALK_REDIS_URL", 2)
    if workers > 1 and settings.media != "off" and settings.node_role == "all":
        fail("several workers cannot share one managed Janus: set MITALK_MEDIA=off, or run "
             "MITALK_NODE_ROLE=api with media nodes", 2)
    if workers > 1 and settings.managed_tls:
        fail("several workers cannot share one managed Caddy: set MITALK_TLS=external", 2)
    if settings.node_role == "media":
        # A media node: Janus and its agent, on the private address API nodes reach it by.
        from mitalk.media.agent import create_agent_app

        if workers > 1:
            fail("a media node runs one agent: drop --workers", 2)
        if not settings.node_address or not settings.redis_url:
            fail("a media node needs MITALK_NODE_ADDRESS and MITALK_REDIS_URL", 2)
        uvicorn.run(
            create_agent_app(settings),
            host=host or settings.node_address or settings.host,
            port=port or settings.media_agent_port,
            log_config=None,
            access_log=settings.log_level == "debug",
        )
        return
    if settings.node_role == "api" and (settings.is_sqlite or not settings.redis_url):
        fail("an API node shares PostgreSQL and Redis with the others: set "
             "MITALK_DATABASE_URL (postgresql+asyncpg://…) and MITALK_REDIS_URL", 2)

    explicit_port = "port" in settings.model_fields_set  # --port or MITALK_PORT
    try:
        # Bound here, before the app starts its Janus: a taken port fails in one line and
        # starts nothing, and no other process can take it between this check and serving.
        listener = _listen(settings.host, settings.port, explicit=explicit_port, log=log)
    except StartupError as exc:
        fail(str(exc))
        raise AssertionError("unreachable") from exc
    host, port = settings.host, listener.getsockname()[1]
    settings = settings.model_copy(update={"port": port})

    async def migrate() -> None:
        db = Database(settings.resolved_database_url)
        try:
            before = await current_revision(db)
            await upgrade(db)
            after = await current_revision(db)
            if before != after:
                log.info("database migrated from %s to %s", before or "an empty schema", after)
        finally:
            await db.dispose()

    asyncio.run(migrate())
    common: dict[str, Any] = {
        "log_config": None,
        "proxy_headers": True,
        # A deadline and a size limit for every request's head (slow clients, slowloris).
        "http": GuardedHttpProtocol,
        # Room events written to many sockets as one frame each (core/ws_protocol.py).
        "ws": DirectWebSocketProtocol,
        # What a client sends on a socket is a small action or a ping (uvicorn allows 16 MiB):
        # a larger message closes the socket (1009).
        "ws_max_size": 64 * 1024,
        # No permessage-deflate (uvicorn offers it, browsers accept it): room events are a few
        # hundred bytes of JSON, and a compressor per socket costs ~35 KiB and ~7 µs per send
        # (bench/README.md, Room sockets).
        "ws_per_message_deflate": False,
        "access_log": settings.log_level.lower() == "debug",
    }
    # Full garbage collections walk only what is new since the last one (core/gc_freeze.py);
    # the workers read it from the environment.
    settings.gc_freeze = True
    os.environ["MITALK_GC_FREEZE"] = "1"
    if workers == 1:
        config = uvicorn.Config(create_app(settings), host=host, port=port, **common)
        server = uvicorn.Server(config)
        server.run(sockets=[listener])
        if not server.started:
            raise typer.Exit(3)  # the app did not start; its log said why (one line)
        return
    # The workers are separate processes that read the settings themselves: give them the
    # port chosen here (uvicorn binds it again in the parent and shares it with them).
    listener.close()
    os.environ["MITALK_HOST"], os.environ["MITALK_PORT"] = host, str(port)
    uvicorn.run(
        "mitalk.app:create_app", factory=True, workers=workers, host=host, port=port,
        # uvicorn kills a worker that misses one 5 s health check, and with it every socket it
        # holds: at ~10,000 sockets on a loaded machine a worker was seen stalled ~4 s (a full
        # garbage collection, before core/gc_freeze.py). A worker silent for 30 s is stuck.
        timeout_worker_healthcheck=30,
        **common,
    )


def _listen(host: str, port: int, *, explicit: bool, log: logging.Logger) -> socket.socket:
    """A socket listening on ``host:port``, or on the next free port when the port was a default."""
    import errno

    from mitalk.core.ports import PortTaken, holder_of, in_use_by, listen_tcp

    try:
        return listen_tcp(host, port)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            problem = f"cannot listen on {host}:{port} ({exc.strerror})"
            raise PortTaken(problem, "MITALK_HOST") from exc
        holder = holder_of("tcp", port)
        problem = f"port {port} on {host} is {in_use_by(holder)}"
        taken = PortTaken(problem, "MITALK_PORT (or --port)", holder=holder)
        if explicit:
            raise taken from exc
    for candidate in range(port + 1, min(port + 101, 65536)):
        try:
            listener = listen_tcp(host, candidate)
        except OSError:
            continue
        log.warning(
            "%s; serving on %d instead (set MITALK_PORT or --port to choose)",
            taken.problem,
            candidate,
        )
        return listener
    raise taken


@app.command()
def doctor(
    ca: Annotated[
        str | None, typer.Option("--ca", help="Also trust this CA's PEM root (a private CA's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Check this deployment and say, line by line, what to fix; exit 0 when nothing fails."""
    import json
    from dataclasses import asdict
    from pathlib import Path

    from mitalk.doctor import render, run_checks

    findings = asyncio.run(run_checks(get_settings(), ca_file=Path(ca) if ca else None))
    typer.echo(json.dumps([asdict(f) for f in findings], indent=2) if as_json else render(findings))
    if any(f.status == "fail" for f in findings):
        raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from mitalk.core.migrate import current_revision, upgrade

    settings = get_settings()
    settings.ensure_data_dir()

    async def main() -> str | None:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db, revision)
            return await current_revision(db)
        finally:
            await db.dispose()

    typer.echo(f"database at revision {asyncio.run(main())}")


@admin_app.command("phase")
def admin_phase(
    phase: Annotated[
        str | None, typer.Argument(help="internal, invite or open; omit to show.")
    ] = None,
) -> None:
    """Show the access phase, or set it (it can move both ways)."""
    from mitalk.access import service

    if phase is not None and phase not in {p.value for p in service.Phase}:
        fail(f"unknown phase {phase!r}: choose internal, invite or open", 2)

    async def work(session: AsyncSession, settings: Settings) -> str:
        if phase is not None:
            await service.change_phase(session, service.Phase(phase), utcnow())
        return (await service.current_phase(session)).value

    result = run_in_transaction(work)
    typer.echo(f"phase: {result}" if phase is None else f"phase set to {result}")


@admin_app.command("sign-out")
def admin_sign_out(
    phone: Annotated[str, typer.Argument(help="The account's phone number.")],
) -> None:
    """End every session of an account (a lost phone, a suspension): its tokens stop working
    and its open sockets close, at once with MITALK_REDIS_URL, else at the next sweep (1 min)."""
    from redis.asyncio import Redis

    from mitalk.accounts import repository as accounts_repo
    from mitalk.accounts import service as accounts
    from mitalk.core.database import run_after_commit
    from mitalk.realtime.dependencies import make_bus

    number = parse_phone(phone)

    async def work(session: AsyncSession, settings: Settings) -> int | None:
        user = await accounts_repo.user_by_phone(session, number)
        if user is None:
            return None
        # With Redis the serving nodes hear the ended sessions (published after the commit).
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        bus = make_bus(settings, redis)
        await bus.start()
        try:
            ended = await accounts.end_sessions(session, bus, user.id)
            await session.commit()
            await run_after_commit(session)  # publish while the bus is open
        finally:
            await bus.close()
            if redis is not None:
                await redis.aclose()
        return len(ended)

    ended = run_in_transaction(work)
    if ended is None:
        fail(f"{number} has no account")
    typer.echo(f"{number}: {ended} session{'' if ended == 1 else 's'} ended")


@staff_app.command("add")
def staff_add(phones: Annotated[list[str], typer.Argument(help="Phone numbers.")]) -> None:
    """Add numbers to the staff list (they may enter in every phase)."""
    from mitalk.access import service

    normalized = [parse_phone(p) for p in phones]

    async def work(session: AsyncSession, settings: Settings) -> list[tuple[str, bool]]:
        return [(p, await service.add_staff(session, settings, p, utcnow())) for p in normalized]

    for phone, added in run_in_transaction(work):
        typer.echo(f"{phone} added" if added else f"{phone} was already staff")


@staff_app.command("remove")
def staff_remove(phones: Annotated[list[str], typer.Argument(help="Phone numbers.")]) -> None:
    """Take numbers off the staff list (their accounts stay members)."""
    from mitalk.access import service

    normalized = [parse_phone(p) for p in phones]

    async def work(session: AsyncSession, settings: Settings) -> list[tuple[str, bool]]:
        return [(p, await service.remove_staff(session, p)) for p in normalized]

    missing = False
    for phone, removed in run_in_transaction(work):
        typer.echo(
            f"{phone} removed" if removed else f"error: {phone} was not staff", err=not removed
        )
        missing |= not removed
    if missing:
        raise typer.Exit(1)


@staff_app.command("list")
def staff_list() -> None:
    """Print the staff list, one number a line."""
    from mitalk.access import service

    async def work(session: AsyncSession, settings: Settings) -> list[str]:
        return await service.staff_phones(session)

    for phone in run_in_transaction(work):
        typer.echo(phone)


@invites_app.command("grant")
def invites_grant(
    count: Annotated[int, typer.Argument(min=1, max=1_000_000, help="Invites to add.")],
    phone: Annotated[str | None, typer.Option(help="The member to give them to.")] = None,
    all_members: Annotated[
        bool, typer.Option("--all-members", help="Give them to every member.")
    ] = False,
) -> None:
    """Give members more invites."""
    from mitalk.access import service
    from mitalk.accounts import repository as accounts_repo

    if (phone is None) == (not all_members):
        fail("name exactly one of --phone PHONE or --all-members", 2)
    target = parse_phone(phone) if phone else None

    async def work(session: AsyncSession, settings: Settings) -> int:
        user = None
        if target is not None:
            user = await accounts_repo.user_by_phone(session, target)
            if user is None:
                raise AppError(f"{target} has no account yet; it can be invited instead.")
        return await service.grant_invites(session, count, user)

    members = run_in_transaction(work)
    typer.echo(
        f"gave {count} invite{'s' if count != 1 else ''} "
        f"to {members} member{'s' if members != 1 else ''}"
    )


@passes_app.command("drop")
def passes_drop(
    count: Annotated[int, typer.Argument(min=1, max=10_000_000, help="How many to admit.")],
    drop_id: Annotated[
        str | None, typer.Option("--id", help="Idempotency key: the same id never admits twice.")
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, max=100_000, help="People admitted per transaction.")
    ] = 10_000,
) -> None:
    """Admit the next COUNT waitlisters in order; prints how many were admitted.

    Killed midway, running the same command again resumes the drop; it never admits twice.
    """
    from mitalk.access.drops import run_drop
    from mitalk.core.migrate import upgrade

    settings = get_settings()
    bar: list[Any] = []

    def started(result: Any) -> None:
        if result.already_ran:
            return
        verb = "resuming" if result.resumed else "starting"
        typer.echo(
            f"{verb} drop {result.drop_id}: {result.admitted} of {count} admitted so far", err=True
        )
        progress = typer.progressbar(length=count, label="admitting", file=sys.stderr)
        progress.__enter__()
        progress.update(result.admitted)
        bar.append(progress)

    def advanced(admitted: int) -> None:
        if bar:
            bar[0].update(admitted - bar[0].pos)

    async def main() -> Any:
        settings.ensure_data_dir()
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            return await run_drop(db, settings, count, drop_id, batch, started, advanced)
        finally:
            if bar:
                bar[0].__exit__(None, None, None)
            await db.dispose()

    try:
        result = asyncio.run(main())
    except AppError as exc:
        fail(exc.message)
        return
    if result.already_ran:
        typer.echo(
            f"drop {result.drop_id} already ran: admitted {result.admitted}; nobody new admitted"
        )
    else:
        typer.echo(f"admitted {result.admitted} (drop {result.drop_id})")


@passes_app.command("window")
def passes_window(
    count: Annotated[int, typer.Argument(min=1, max=10_000_000, help="How many passes.")],
    opens_at: Annotated[str | None, typer.Option(help="ISO 8601 time; default now.")] = None,
    closes_at: Annotated[
        str | None, typer.Option(help="ISO 8601 time; default: when sold out.")
    ] = None,
) -> None:
    """Open a claim window of COUNT passes that waitlisters race to claim."""
    from mitalk.access import service

    opens = parse_time(opens_at, "--opens-at")
    closes = parse_time(closes_at, "--closes-at")

    async def work(session: AsyncSession, settings: Settings) -> Any:
        return await service.open_window(session, count, utcnow(), opens, closes)

    window = run_in_transaction(work)
    until = window.closes_at.isoformat() if window.closes_at else "sold out"
    noun = "pass" if window.total == 1 else "passes"
    typer.echo(
        f"window {window.id}: {window.total} {noun}, "
        f"opens {window.opens_at.isoformat()}, until {until}"
    )


@passes_app.command("close")
def passes_close() -> None:
    """Close the open or scheduled claim window now."""
    from mitalk.access import service

    async def work(session: AsyncSession, settings: Settings) -> Any:
        return await service.close_window(session, utcnow())

    window = run_in_transaction(work)
    if window is None:
        fail("no claim window is open or scheduled")
    typer.echo(f"window {window.id} closed: {window.granted} of {window.total} passes claimed")


@waitlist_app.command("stats")
def waitlist_stats(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the waitlist's size, passes per drop and window, and the claim rate."""
    from mitalk.access import service

    async def work(session: AsyncSession, settings: Settings) -> Any:
        return await service.waitlist_stats(session, utcnow())

    stats = run_in_transaction(work)
    if as_json:
        typer.echo(stats.model_dump_json(indent=2))
        return
    typer.echo(f"waiting {stats.waiting:,}   admitted {stats.admitted:,}   joined {stats.joined:,}")
    typer.echo(f"claims in the last 10 s: {stats.claims_per_second_last_10s:,.1f}/s")
    for d in stats.drops:
        typer.echo(f"drop   {d.id}: {d.admitted:,}/{d.requested:,} admitted ({d.status})")
    for w in stats.windows:
        rate = f", {w.grants_per_second:,.0f} passes/s" if w.grants_per_second else ""
        typer.echo(f"window {w.id}: {w.granted:,}/{w.total:,} granted ({w.state}{rate})")


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Send what is due now, then exit.")] = False,
) -> None:
    """Send queued text messages (notices of passes) with retries; `serve` runs this too."""
    from mitalk.accounts.sms import make_sms_sender
    from mitalk.core.logging import configure_logging
    from mitalk.core.migrate import upgrade
    from mitalk.notifications.delivery import drain, run_worker

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)

    async def main() -> int:
        settings.ensure_data_dir()
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
            sms = make_sms_sender(settings)
            if once:
                return await drain(db, sms)
            stop = asyncio.Event()
            await run_worker(db, sms, stop)
            return 0
        finally:
            await db.dispose()

    sent = asyncio.run(main())
    if once:
        typer.echo(f"sent {sent} message{'s' if sent != 1 else ''}")


@app.command()
def schemas(
    out: Annotated[
        str,
        typer.Option("--out", help="Folder to write openapi.json and realtime-schemas.json into."),
    ],
) -> None:
    """Write the OpenAPI schema and the real-time event schemas (the web client's sources)."""
    from mitalk.app import create_app
    from mitalk.realtime.schemas import realtime_schemas_document

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    api = create_app(Settings(media="off"))
    documents = {
        "openapi.json": api.openapi(),
        "realtime-schemas.json": realtime_schemas_document().model_dump(mode="json"),
    }
    for name, document in documents.items():
        (folder / name).write_text(
            json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        typer.echo(f"wrote {folder / name}")


def main() -> None:
    """Entry point of the ``mitalk`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
