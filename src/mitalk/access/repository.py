"""Every SQL query about phases, staff, invites, the waitlist and passes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Select, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mitalk.access.models import (
    AccessState,
    Invite,
    PassDrop,
    PassGrant,
    PassWindow,
    StaffPhone,
    WaitlistCounters,
    WaitlistEntry,
)
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.models import AuthSession, User

DEFAULT_PHASE = "internal"


async def phase(session: AsyncSession) -> str:
    """The current phase; a new deployment starts closed (``internal``)."""
    value = await session.scalar(select(AccessState.phase).where(AccessState.id == 1))
    return value or DEFAULT_PHASE


async def set_phase(session: AsyncSession, new_phase: str, now: dt.datetime) -> None:
    """Store the phase in the single state row."""
    state = await session.get(AccessState, 1)
    if state is None:
        session.add(AccessState(id=1, phase=new_phase, changed_at=now))
    else:
        state.phase, state.changed_at = new_phase, now
    await session.flush()


async def is_staff(session: AsyncSession, phone: str) -> bool:
    """Whether a number is on the staff list."""
    return await session.get(StaffPhone, phone) is not None


async def add_staff(session: AsyncSession, phone: str) -> bool:
    """Put a number on the staff list; False if it was already there."""
    if await is_staff(session, phone):
        return False
    session.add(StaffPhone(phone=phone))
    await session.flush()
    return True


async def remove_staff(session: AsyncSession, phone: str) -> bool:
    """Take a number off the staff list; False if it was not there."""
    staff = await session.get(StaffPhone, phone)
    if staff is None:
        return False
    await session.delete(staff)
    await session.flush()
    return True


async def staff_phones(session: AsyncSession) -> Sequence[str]:
    """Every staff number, in order."""
    return (await session.scalars(select(StaffPhone.phone).order_by(StaffPhone.phone))).all()


async def pending_invite_for(session: AsyncSession, phone: str) -> Invite | None:
    """The pending invite of a number, if any."""
    return await session.scalar(
        select(Invite).where(Invite.phone == phone, Invite.status == "pending")
    )


async def add_invite(
    session: AsyncSession, inviter_id: str, phone: str, now: dt.datetime
) -> Invite:
    """Record a pending invite."""
    invite = Invite(inviter_id=inviter_id, phone=phone, status="pending", created_at=now)
    session.add(invite)
    await session.flush()
    return invite


async def invites_sent_since(
    session: AsyncSession, inviter_id: str, since: dt.datetime
) -> Sequence[dt.datetime]:
    """When a member sent each invite after ``since`` (revoked ones too), oldest first."""
    return (
        await session.scalars(
            select(Invite.created_at)
            .where(Invite.inviter_id == inviter_id, Invite.created_at > since)
            .order_by(Invite.created_at)
        )
    ).all()


async def invites_of(session: AsyncSession, inviter_id: str) -> Sequence[Invite]:
    """A member's invites that are pending or used, newest first."""
    return (
        await session.scalars(
            select(Invite)
            .where(Invite.inviter_id == inviter_id, Invite.status != "revoked")
            .order_by(Invite.created_at.desc(), Invite.id)
        )
    ).all()


async def invite_by_id(session: AsyncSession, invite_id: str) -> Invite | None:
    """One invite."""
    return await session.get(Invite, invite_id)


async def take_invite(session: AsyncSession, user_id: str) -> bool:
    """Spend one of a member's invites atomically; False if none are left."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id, User.invites_left > 0)
        .values(invites_left=User.invites_left - 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def give_invites(session: AsyncSession, count: int, user_id: str | None) -> int:
    """Add invites to one member, or to every active member; returns how many members got them."""
    stmt = (
        update(User).where(User.status == "active").values(invites_left=User.invites_left + count)
    )
    if user_id is not None:
        stmt = stmt.where(User.id == user_id)
    result = await session.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def activate_users(
    session: AsyncSession, user_ids: Sequence[str], via: str, invites: int, now: dt.datetime
) -> int:
    """Make waitlisted accounts active members; returns how many changed."""
    changed = 0
    for start in range(0, len(user_ids), 1000):
        result = await session.execute(
            update(User)
            .where(User.id.in_(user_ids[start : start + 1000]), User.status == "waitlisted")
            .values(status="active", admitted_via=via, activated_at=now, invites_left=invites)
        )
        changed += int(result.rowcount)  # type: ignore[attr-defined]
    return changed


async def waitlist_entry(session: AsyncSession, user_id: str) -> WaitlistEntry | None:
    """A person's waitlist entry, admitted or not."""
    return await session.scalar(select(WaitlistEntry).where(WaitlistEntry.user_id == user_id))


async def bump_counters(
    session: AsyncSession, joined: int = 0, admitted: int = 0
) -> tuple[int, int]:
    """Add to the line's totals atomically; returns (joined, admitted) after the change."""
    stmt = (
        update(WaitlistCounters)
        .where(WaitlistCounters.id == 1)
        .values(
            joined=WaitlistCounters.joined + joined, admitted=WaitlistCounters.admitted + admitted
        )
        .returning(WaitlistCounters.joined, WaitlistCounters.admitted)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        # The row is made by the migration; recreate it if someone emptied the table.
        session.add(WaitlistCounters(id=1, joined=0, admitted=0))
        await session.flush()
        row = (await session.execute(stmt)).one()
    return int(row[0]), int(row[1])


async def join_waitlist(session: AsyncSession, user_id: str, now: dt.datetime) -> WaitlistEntry:
    """Give a person the next place in line (once); places are numbered 1, 2, 3, … without gaps."""
    entry = await waitlist_entry(session, user_id)
    if entry is None:
        joined, _ = await bump_counters(session, joined=1)
        entry = WaitlistEntry(seq=joined, user_id=user_id, joined_at=now)
        session.add(entry)
        await session.flush()
    return entry


async def leave_waitlist(
    session: AsyncSession, user_id: str, admitted_by: str, now: dt.datetime
) -> bool:
    """Mark a person's entry admitted; False if it was not waiting (someone got there first)."""
    result = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.user_id == user_id, WaitlistEntry.admitted_at.is_(None))
        .values(admitted_at=now, admitted_by=admitted_by)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await bump_counters(session, admitted=1)
    return True


async def place_in_line(session: AsyncSession, user_id: str) -> tuple[int, int] | None:
    """A waitlister's (position, total) in one statement; None if not waiting in line.

    Everyone between the head of the line and me waits, except those let in out of order
    (claims, invites), and the total comes from the running totals: all index look-ups, as
    scalar subqueries of one read, so a hello or ``GET /me`` pays one round trip for its place
    and it stays cheap with millions in line.
    """
    mine, skipped_entry = aliased(WaitlistEntry), aliased(WaitlistEntry)
    head = (
        select(func.min(WaitlistEntry.seq))
        .where(WaitlistEntry.admitted_at.is_(None))
        .scalar_subquery()
    )
    skipped = (
        select(func.count())
        .select_from(skipped_entry)
        .where(
            skipped_entry.admitted_at.is_not(None),
            skipped_entry.seq > head,
            skipped_entry.seq < mine.seq,
        )
        .scalar_subquery()
    )
    total = (
        select(WaitlistCounters.joined - WaitlistCounters.admitted)
        .where(WaitlistCounters.id == 1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(mine.seq, head, skipped, total).where(
                mine.user_id == user_id, mine.admitted_at.is_(None)
            )
        )
    ).one_or_none()
    if row is None:
        return None
    seq, first, before, waiting = int(row[0]), row[1], int(row[2] or 0), int(row[3] or 0)
    ahead = 0 if first is None or first >= seq else seq - int(first) - before
    return ahead + 1, waiting


async def waitlist_seqs(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, int]:
    """The places' sequence numbers (fixed for life) of these people, admitted or not."""
    found: dict[str, int] = {}
    for start in range(0, len(user_ids), 1000):
        rows = await session.execute(
            select(WaitlistEntry.user_id, WaitlistEntry.seq).where(
                WaitlistEntry.user_id.in_(user_ids[start : start + 1000])
            )
        )
        found.update((r[0], int(r[1])) for r in rows)
    return found


async def waiting_head(session: AsyncSession) -> int | None:
    """The sequence number at the head of the line (None: nobody waits)."""
    head = await session.scalar(
        select(func.min(WaitlistEntry.seq)).where(WaitlistEntry.admitted_at.is_(None))
    )
    return None if head is None else int(head)


async def admitted_between(
    session: AsyncSession, after: int, low: int, high: int
) -> tuple[int, list[int]]:
    """Entries let in out of order: how many lie in (after, low), and the sorted sequence
    numbers of those in [low, high] (index-only reads of the admitted entries' index)."""
    before = await session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.admitted_at.is_not(None),
            WaitlistEntry.seq > after,
            WaitlistEntry.seq < low,
        )
    )
    rows = await session.scalars(
        select(WaitlistEntry.seq)
        .where(
            WaitlistEntry.admitted_at.is_not(None),
            WaitlistEntry.seq >= low,
            WaitlistEntry.seq <= high,
        )
        .order_by(WaitlistEntry.seq)
    )
    return int(before or 0), [int(seq) for seq in rows]


_SEQ_AND_LINE = select(
    WaitlistEntry.seq,
    select(WaitlistCounters.joined).where(WaitlistCounters.id == 1).scalar_subquery(),
    select(WaitlistCounters.admitted).where(WaitlistCounters.id == 1).scalar_subquery(),
).where(WaitlistEntry.user_id == bindparam("user_id"), WaitlistEntry.admitted_at.is_(None))


async def waiting_seq_and_line(
    session: AsyncSession, user_id: str
) -> tuple[int, int, int] | None:
    """A waitlister's sequence number with the line's running totals (joined, admitted), in
    one statement built once; None if the person does not wait in line."""
    row = (await session.execute(_SEQ_AND_LINE, {"user_id": user_id})).one_or_none()
    return None if row is None else (int(row[0]), int(row[1] or 0), int(row[2] or 0))


async def admitted_after(session: AsyncSession, head: int) -> list[int]:
    """The sorted sequence numbers let in out of order behind the head of the line."""
    rows = await session.scalars(
        select(WaitlistEntry.seq)
        .where(WaitlistEntry.admitted_at.is_not(None), WaitlistEntry.seq > head)
        .order_by(WaitlistEntry.seq)
    )
    return [int(seq) for seq in rows]


async def waiting_total(session: AsyncSession) -> int:
    """How many people wait (from the running totals)."""
    row = (
        await session.execute(
            select(WaitlistCounters.joined, WaitlistCounters.admitted).where(
                WaitlistCounters.id == 1
            )
        )
    ).one_or_none()
    return 0 if row is None else int(row[0] - row[1])


async def drop_by_id(session: AsyncSession, drop_id: str) -> PassDrop | None:
    """A drop that already ran under this id."""
    return await session.get(PassDrop, drop_id)


async def add_drop(
    session: AsyncSession, drop_id: str, requested: int, now: dt.datetime
) -> PassDrop:
    """Record a drop that is starting."""
    drop = PassDrop(id=drop_id, requested=requested, admitted=0, status="running", created_at=now)
    session.add(drop)
    await session.flush()
    return drop


async def lock_drop(session: AsyncSession, drop_id: str) -> PassDrop | None:
    """A drop, locked for this transaction (two runs of the same drop take turns)."""
    return await session.scalar(select(PassDrop).where(PassDrop.id == drop_id).with_for_update())


async def running_drops(session: AsyncSession) -> Sequence[PassDrop]:
    """Drops that started and did not finish (interrupted, or running elsewhere now)."""
    return (
        await session.scalars(
            select(PassDrop).where(PassDrop.status == "running").order_by(PassDrop.created_at)
        )
    ).all()


async def add_window(
    session: AsyncSession, total: int, opens_at: dt.datetime, closes_at: dt.datetime | None
) -> PassWindow:
    """Record a claim window."""
    window = PassWindow(total=total, granted=0, opens_at=opens_at, closes_at=closes_at)
    session.add(window)
    await session.flush()
    return window


async def unfinished_windows(session: AsyncSession, now: dt.datetime) -> Sequence[PassWindow]:
    """Windows that are open or yet to open and still have passes."""
    return (
        await session.scalars(
            select(PassWindow)
            .where(
                PassWindow.granted < PassWindow.total,
                or_(PassWindow.closes_at.is_(None), PassWindow.closes_at > now),
            )
            .order_by(PassWindow.opens_at)
        )
    ).all()


async def latest_window(session: AsyncSession, now: dt.datetime) -> PassWindow | None:
    """The window that opened most recently (open, sold out or closed), if any opened."""
    return await session.scalar(
        select(PassWindow)
        .where(PassWindow.opens_at <= now)
        .order_by(PassWindow.opens_at.desc())
        .limit(1)
    )


async def window_by_id(session: AsyncSession, window_id: str) -> PassWindow | None:
    """One claim window."""
    return await session.get(PassWindow, window_id)


async def close_window(session: AsyncSession, window_id: str, now: dt.datetime) -> None:
    """End a window now."""
    await session.execute(
        update(PassWindow).where(PassWindow.id == window_id).values(closes_at=now)
    )


async def grant_of(session: AsyncSession, user_id: str) -> PassGrant | None:
    """The pass a person was granted, if any."""
    return await session.scalar(select(PassGrant).where(PassGrant.user_id == user_id))


async def take_waiting(
    session: AsyncSession, user_ids: Sequence[str], admitted_by: str, now: dt.datetime
) -> list[str]:
    """Admit whichever of these people still wait; returns them (the others were let in already)."""
    taken: list[str] = []
    for start in range(0, len(user_ids), 1000):
        result = await session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.user_id.in_(user_ids[start : start + 1000]),
                WaitlistEntry.admitted_at.is_(None),
            )
            .values(admitted_at=now, admitted_by=admitted_by)
            .returning(WaitlistEntry.user_id)
        )
        taken.extend(result.scalars().all())
    if taken:
        await bump_counters(session, admitted=len(taken))
    return taken


async def users_with_grants(session: AsyncSession, user_ids: Sequence[str]) -> set[str]:
    """Which of these people already hold a pass."""
    found: set[str] = set()
    for start in range(0, len(user_ids), 1000):
        found.update(
            (
                await session.scalars(
                    select(PassGrant.user_id).where(
                        PassGrant.user_id.in_(user_ids[start : start + 1000])
                    )
                )
            ).all()
        )
    return found


async def count_off_passes(
    session: AsyncSession, window_id: str, count: int, now: dt.datetime
) -> bool:
    """Take ``count`` passes of an open window in one conditional UPDATE; False if it cannot.

    The check and the increment are one statement: on PostgreSQL a concurrent claim waits for
    the row lock and re-checks ``granted + count <= total`` against the committed value.
    """
    result = await session.execute(
        update(PassWindow)
        .where(
            PassWindow.id == window_id,
            PassWindow.granted + count <= PassWindow.total,
            PassWindow.opens_at <= now,
            or_(PassWindow.closes_at.is_(None), PassWindow.closes_at > now),
        )
        .values(granted=PassWindow.granted + count)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def add_grants(
    session: AsyncSession,
    window_id: str,
    user_ids: Sequence[str],
    now: dt.datetime,
    counted: bool = False,
) -> int:
    """Record passes granted in a window, in bulk (and count them, unless ``counted`` already);
    returns how many were new.

    A person's grant that is already there is skipped, not an error: two grant writers may
    apply the same stream entries at once (one took over the other's after it stalled).
    """
    if not user_ids:
        return 0
    dialect = session.get_bind().dialect.name
    # On the table, not the entity: a Core insert of many rows, without the ORM's bulk path
    # (which worked over every row in Python: a tenth of a claim's CPU in the rush profile).
    table = cast(Table, PassGrant.__table__)
    statement = (postgres_insert if dialect == "postgresql" else sqlite_insert)(table)
    inserted = await session.execute(
        statement.on_conflict_do_nothing(index_elements=["user_id"]).returning(table.c.user_id),
        [{"window_id": window_id, "user_id": uid, "granted_at": now} for uid in user_ids],
    )
    added = len(inserted.all())
    if not counted and added:
        await session.execute(
            update(PassWindow)
            .where(PassWindow.id == window_id)
            .values(granted=PassWindow.granted + added)
        )
    return added


async def granted_users(session: AsyncSession, window_id: str) -> set[str]:
    """Everyone granted a pass in a window."""
    return set(
        (
            await session.scalars(select(PassGrant.user_id).where(PassGrant.window_id == window_id))
        ).all()
    )


async def recent_drops(session: AsyncSession, limit: int) -> Sequence[PassDrop]:
    """The newest drops."""
    return (
        await session.scalars(select(PassDrop).order_by(PassDrop.created_at.desc()).limit(limit))
    ).all()


async def recent_windows(session: AsyncSession, limit: int) -> Sequence[PassWindow]:
    """The newest claim windows."""
    return (
        await session.scalars(
            select(PassWindow).order_by(PassWindow.created_at.desc()).limit(limit)
        )
    ).all()


async def grant_span(
    session: AsyncSession, window_id: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When a window's first and last passes were granted."""
    row = (
        await session.execute(
            select(func.min(PassGrant.granted_at), func.max(PassGrant.granted_at)).where(
                PassGrant.window_id == window_id
            )
        )
    ).one()
    return row[0], row[1]


async def grants_since(session: AsyncSession, since: dt.datetime) -> int:
    """How many passes were granted since ``since``."""
    return int(
        await session.scalar(
            select(func.count()).select_from(PassGrant).where(PassGrant.granted_at >= since)
        )
        or 0
    )


async def counters(session: AsyncSession) -> tuple[int, int]:
    """The line's totals: (joined, admitted)."""
    row = (
        await session.execute(
            select(WaitlistCounters.joined, WaitlistCounters.admitted).where(
                WaitlistCounters.id == 1
            )
        )
    ).one_or_none()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def admit_head(
    session: AsyncSession, count: int, tag: str, via: str, invites: int, now: dt.datetime,
    after: int = 0,
) -> tuple[int, int, int]:
    """Admit the next ``count`` in line with set-based statements; returns how many.

    The head of the line is a range of places, so the whole batch is two statements whatever
    its size: mark the range admitted, activate its accounts (no rows travel through Python).
    Entries in the range that someone else admitted meanwhile are skipped by the
    ``admitted_at IS NULL`` re-check under the row lock. ``after`` (a place known to be behind
    the head) lets the search skip the index entries of people admitted earlier, which
    PostgreSQL keeps until it vacuums. Returns (admitted, first and last place of the batch's
    range); ``admitted_by(tag, first, last)`` is then the people it admitted, for their notices.
    """
    # The bounds are aggregated over the head's own index scan: written as ``seq IN (head)``
    # PostgreSQL joined the head against a sequential scan of the whole line, which made a drop's
    # time grow with the line (0.1-0.5 s a batch at 1.3 million) rather than with the drop.
    head = (
        select(WaitlistEntry.seq)
        .where(WaitlistEntry.admitted_at.is_(None), WaitlistEntry.seq > after)
        .order_by(WaitlistEntry.seq)
        .limit(count)
        .subquery()
    )
    bounds = (await session.execute(select(func.min(head.c.seq), func.max(head.c.seq)))).one()
    if bounds[0] is None:
        return 0, after, after
    low, high = int(bounds[0]), int(bounds[1])
    in_batch = (WaitlistEntry.seq >= low, WaitlistEntry.seq <= high)
    result = await session.execute(
        update(WaitlistEntry)
        .where(*in_batch, WaitlistEntry.admitted_at.is_(None))
        .values(admitted_at=now, admitted_by=tag)
    )
    admitted = int(result.rowcount)  # type: ignore[attr-defined]
    if not admitted:
        return 0, low, high
    batch_users = admitted_by(tag, low, high)
    await session.execute(
        update(User)
        .where(User.id.in_(batch_users), User.status == "waitlisted")
        .values(status="active", admitted_via=via, activated_at=now, invites_left=invites)
        .execution_options(synchronize_session=False)
    )
    await bump_counters(session, admitted=admitted)
    return admitted, low, high


def admitted_by(tag: str, first: int | None = None, last: int | None = None) -> Select[str]:
    """The people ``tag`` (``drop:<id>``) let in, as a query of user ids; only those at places
    ``first``…``last`` when given (a range scan of the line's key, instead of the whole line)."""
    query = select(WaitlistEntry.user_id).where(WaitlistEntry.admitted_by == tag)
    if first is not None and last is not None:
        query = query.where(WaitlistEntry.seq >= first, WaitlistEntry.seq <= last)
    return query


async def claim_tokens_of_waitlisters(
    session: AsyncSession, announced_at: dt.datetime, now: dt.datetime, after: str, limit: int
) -> list[tuple[str, str, str, dt.datetime]]:
    """A page of the live sessions of every account that waits in line and existed at
    ``announced_at``: (token hash, user id, session id, expiry), after token hash ``after``."""
    rows = await session.execute(
        select(AuthSession.token_hash, User.id, AuthSession.id, AuthSession.expires_at)
        .join(User, User.id == AuthSession.user_id)
        .where(
            AuthSession.token_hash > after,
            User.status == "waitlisted",
            User.created_at <= announced_at,
            AuthSession.expires_at > now,
            accounts_repo.not_suspended(now),
        )
        .order_by(AuthSession.token_hash)
        .limit(limit)
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]
