"""The ``mitalk`` command: serve, database, and operator commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from collections.abc import Awaitable, Callable
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
admin_app = typer.Typer(help="Operate a deployment (named by the same MITALK_ settings as serve).", no_args_is_help=True)
staff_app = typer.Typer(help="The staff list: staff may enter in every phase.", no_args_is_help=True)
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
    workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (needs Redis, media off).")] = 1,
) -> None:
    """Run everything on this machine: migrate the database, then serve the API."""
    import uvicorn

    from mitalk.app import create_app
    from mitalk.core.logging import configure_logging
    from mitalk.core.migrate import upgrade

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    settings.ensure_data_dir()
    if workers > 1 and not settings.redis_url:
        # Claim desks, rate limits and events would each see only their own process.
        fail("several workers share state through Redis: set MITALK_REDIS_URL", 2)
    if workers > 1 and settings.media != "off":
        fail("several workers cannot share one managed Janus yet: set MITALK_MEDIA=off", 2)

    async def migrate() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(migrate())
    uvicorn.run(
        create_app(settings) if workers == 1 else "mitalk.app:create_app",
        factory=workers > 1,
        workers=workers,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=True,
        access_log=settings.log_level == "debug",
    )


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
    phase: Annotated[str | None, typer.Argument(help="internal, invite or open; omit to show.")] = None,
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
        typer.echo(f"{phone} removed" if removed else f"error: {phone} was not staff", err=not removed)
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
    all_members: Annotated[bool, typer.Option("--all-members", help="Give them to every member.")] = False,
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
    typer.echo(f"gave {count} invite{'s' if count != 1 else ''} to {members} member{'s' if members != 1 else ''}")


@passes_app.command("drop")
def passes_drop(
    count: Annotated[int, typer.Argument(min=1, max=10_000_000, help="How many to admit.")],
    drop_id: Annotated[str | None, typer.Option("--id", help="Idempotency key: the same id never admits twice.")] = None,
    batch: Annotated[int, typer.Option(min=1, max=100_000, help="People admitted per transaction.")] = 10_000,
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
        typer.echo(f"{verb} drop {result.drop_id}: {result.admitted} of {count} admitted so far", err=True)
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
        typer.echo(f"drop {result.drop_id} already ran: admitted {result.admitted}; nobody new admitted")
    else:
        typer.echo(f"admitted {result.admitted} (drop {result.drop_id})")


@passes_app.command("window")
def passes_window(
    count: Annotated[int, typer.Argument(min=1, max=10_000_000, help="How many passes.")],
    opens_at: Annotated[str | None, typer.Option(help="ISO 8601 time; default now.")] = None,
    closes_at: Annotated[str | None, typer.Option(help="ISO 8601 time; default: when sold out.")] = None,
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
    typer.echo(f"window {window.id}: {window.total} {noun}, opens {window.opens_at.isoformat()}, until {until}")


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
    from mitalk.network.delivery import drain, run_worker

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
    out: Annotated[str, typer.Option("--out", help="Folder to write openapi.json and realtime-schemas.json into.")],
) -> None:
    """Write the OpenAPI schema and the real-time event schemas (the web client is generated from them)."""
    import json
    from pathlib import Path

    from mitalk.app import create_app
    from mitalk.realtime.gateway import realtime_schemas_document

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    api = create_app(Settings(media="off"))
    documents = {
        "openapi.json": api.openapi(),
        "realtime-schemas.json": realtime_schemas_document().model_dump(mode="json"),
    }
    for name, document in documents.items():
        (folder / name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        typer.echo(f"wrote {folder / name}")


def main() -> None:
    """Entry point of the ``mitalk`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
