"""Places in line: the one-read place of a person and the places of many at once (the account
sockets of a node) agree with the line's definition after drops and out-of-order admissions."""

from __future__ import annotations

import random

from sqlalchemy.ext.asyncio import AsyncSession

from factories import bulk_waitlisters, in_transaction
from mitalk.access import repository as repo
from mitalk.access import service as access
from mitalk.access.drops import run_drop
from mitalk.accounts import repository as accounts_repo
from mitalk.core.database import Database, utcnow
from mitalk.core.settings import Settings


async def test_one_place_and_many_places_follow_the_line(db: Database, settings: Settings) -> None:
    people = await bulk_waitlisters(db, settings, 40)
    ids = [p.id for p in people]
    rng = random.Random(14)
    # Let people in out of order (as claims and invites do), then drop from the head.
    out_of_order = [ids[6], ids[7], *rng.sample(ids[9:], 8)]

    async def admit(session: AsyncSession) -> None:
        taken = await repo.take_waiting(session, out_of_order, "window:test", utcnow())
        await repo.activate_users(session, taken, "window", 0, utcnow())

    await in_transaction(db, admit)
    await run_drop(db, settings, 3)
    async with db.read_sessions() as session:
        seqs = await repo.waitlist_seqs(session, ids)
        waiting = [
            uid for uid in sorted(ids, key=seqs.__getitem__)
            if uid not in out_of_order and uid not in ids[:3]
        ]
        expected = {uid: (i + 1, len(waiting)) for i, uid in enumerate(waiting)}
        for uid in ids:
            user = await accounts_repo.user_by_id(session, uid)
            assert user is not None
            place = await access.position_of(session, user)
            assert (None if place is None else (place.position, place.total)) == expected.get(uid)
        # Many at once: a node's sockets, some of them already let in, the lowest above the
        # head with admissions between it and the head (counted, not listed).
        for sockets in (ids, ids[8:], rng.sample(ids, 12), [waiting[0]], [out_of_order[0]]):
            mine = {uid: seqs[uid] for uid in sockets}
            head = await repo.waiting_head(session)
            above = [s for s in mine.values() if head is not None and s > head]
            before, admitted = (
                await repo.admitted_between(session, head, min(above), max(above))
                if above and head is not None
                else (0, [])
            )
            places = access.places_in_line(mine, head, before, admitted, len(waiting))
            assert {
                uid: None if p is None else (p.position, p.total) for uid, p in places.items()
            } == {uid: expected.get(uid) for uid in sockets}


async def test_nobody_waiting_means_everyone_is_let_in(db: Database, settings: Settings) -> None:
    people = await bulk_waitlisters(db, settings, 3)
    await run_drop(db, settings, 3)
    async with db.read_sessions() as session:
        seqs = await repo.waitlist_seqs(session, [p.id for p in people])
        assert await repo.waiting_head(session) is None
        assert access.places_in_line(seqs, None, 0, [], 0) == {p.id: None for p in people}
        user = await accounts_repo.user_by_id(session, people[0].id)
        assert user is not None and await repo.place_in_line(session, user.id) is None


async def test_a_nodes_snapshot_of_the_line_gives_exact_places(
    db: Database, settings: Settings
) -> None:
    """The hellos' shared snapshot: exact after out-of-order admissions, after a drop, after
    joins (which change only the count), and when the first person joins an empty line."""
    line = access.LineSnapshot()

    async def places(ids: list[str]) -> dict[str, tuple[int, int] | None]:
        async with db.read_sessions() as session:
            found = {uid: await line.place_of(session, uid) for uid in ids}
        return {uid: None if p is None else (p.position, p.total) for uid, p in found.items()}

    async def expected(ids: list[str]) -> dict[str, tuple[int, int] | None]:
        async with db.read_sessions() as session:
            out = {}
            for uid in ids:
                user = await accounts_repo.user_by_id(session, uid)
                assert user is not None
                p = await access.position_of(session, user)
                out[uid] = None if p is None else (p.position, p.total)
            return out

    first = await bulk_waitlisters(db, settings, 1)
    assert await places([first[0].id]) == {first[0].id: (1, 1)}
    await run_drop(db, settings, 1)
    assert await places([first[0].id]) == {first[0].id: None}
    # As if the snapshot was last taken now, with nobody waiting (a hello racing the drop).
    line.head, line.admitted, line.admitted_total = None, [], 1
    # The line is empty in the snapshot; people join without anyone being let in.
    people = first + await bulk_waitlisters(db, settings, 20)
    ids = [p.id for p in people]
    assert await places(ids) == await expected(ids)
    assert (await places(ids))[ids[1]] == (1, 20)

    async def admit(session: AsyncSession) -> None:
        taken = await repo.take_waiting(session, [ids[3], ids[7], ids[15]], "window:t", utcnow())
        await repo.activate_users(session, taken, "window", 0, utcnow())

    await in_transaction(db, admit)
    assert await places(ids) == await expected(ids)
    assert (await places(ids))[ids[8]] == (6, 17)
    await run_drop(db, settings, 2)
    people += await bulk_waitlisters(db, settings, 2)  # joins only: the snapshot still holds
    ids = [p.id for p in people]
    assert await places(ids) == await expected(ids)
