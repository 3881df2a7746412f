"""The drop job: admits the head of the waitlist in committed batches, resumable after a crash."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text

from mitalk.access import service
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.settings import Settings

DEFAULT_BATCH = 10_000


async def run_drop(
    db: Database,
    settings: Settings,
    count: int,
    drop_id: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_start: Callable[[service.DropResult], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> service.DropResult:
    """Admit the next ``count`` waitlisters exactly once, batch by batch.

    Each batch is its own transaction (admissions + notices + the drop's count), so a crash
    loses at most the batch in flight, which the next run of the same drop does again.
    """
    async with unit_of_work(db) as session:
        started = await service.begin_drop(session, count, utcnow(), drop_id)
    if on_start:
        on_start(started)
    if started.already_ran:
        return started
    admitted, finished, after = started.admitted, False, 0
    while not finished:
        async with unit_of_work(db) as session:
            if not db.is_sqlite:
                # A batch lost with an unflushed commit is simply done again on resume, so the
                # drop need not wait for each commit to reach the disk.
                await session.execute(text("SET LOCAL synchronous_commit = off"))
            admitted, finished, after = await service.drop_batch(
                session, settings, started.drop_id, batch_size, utcnow(), after
            )
        if on_progress:
            on_progress(admitted)
    return service.DropResult(started.drop_id, admitted, already_ran=False, resumed=started.resumed)
