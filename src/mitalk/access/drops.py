"""The drop job: admits the head of the waitlist in committed batches, resumable after a crash.

Grants first, notices after: every batch's admissions commit on their own, and only when the
whole drop is in are the pass notices (and their text messages) written, batch by batch. The
people let in are active from their batch's commit (the app shows their pass, their account
socket lets them in); the notice in their list and the text follow a moment later. A drop is
``done`` only once everyone it let in is told, so a run killed between the two is resumed by
running it again: the resumed run writes the notices that are missing, and only those.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.core.settings import Settings

DEFAULT_BATCH = 10_000


async def _lazy_commit(db: Database, session: AsyncSession) -> None:
    if not db.is_sqlite:
        # A batch lost with an unflushed commit is simply done again on resume (its grants are
        # re-admitted, its notices rewritten), so the drop need not wait for each commit to
        # reach the disk.
        await session.execute(text("SET LOCAL synchronous_commit = off"))


async def run_drop(
    db: Database,
    settings: Settings,
    count: int,
    drop_id: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_start: Callable[[service.DropResult], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_granted: Callable[[int], None] | None = None,
) -> service.DropResult:
    """Admit the next ``count`` waitlisters exactly once, batch by batch, then tell them.

    Each batch is its own transaction (admissions + the drop's count), so a crash loses at most
    the batch in flight, which the next run of the same drop does again. ``on_granted`` is
    called once every pass is granted, before the notices are written.
    """
    async with unit_of_work(db) as session:
        started = await service.begin_drop(session, count, utcnow(), drop_id)
    if on_start:
        on_start(started)
    if started.already_ran:
        return started
    drop = started.drop_id
    admitted, granted, after = started.admitted, False, 0
    ranges: list[tuple[int, int, int]] = []
    while not granted:
        async with unit_of_work(db) as session:
            await _lazy_commit(db, session)
            admitted, granted, batch = await service.drop_batch(
                session, settings, drop, batch_size, utcnow(), after
            )
        if batch is not None:
            ranges.append(batch)
            after = batch[1]
        if on_progress:
            on_progress(admitted)
    if on_granted:
        on_granted(admitted)
    if started.resumed or sum(n for _, _, n in ranges) != admitted:
        # Others let people in under this drop too (a killed run, or one running beside this
        # one): tell everyone the drop let in who is not told yet, wherever they are in line.
        async with unit_of_work(db) as session:
            await _lazy_commit(db, session)
            await service.tell_whole_drop(session, drop, utcnow())
    else:
        for first, last, _ in ranges:
            async with unit_of_work(db) as session:
                await _lazy_commit(db, session)
                await service.tell_drop_range(session, drop, first, last, utcnow())
    async with unit_of_work(db) as session:
        admitted = await service.finish_drop(session, drop, utcnow())
    return service.DropResult(drop, admitted, already_ran=False, resumed=started.resumed)
