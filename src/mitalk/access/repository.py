"""Every SQL query about phases, staff, invites, the waitlist and passes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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
from mitalk.accounts.models import User
from mitalk.core.database import UTCDateTime

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


async def add_invite(session: AsyncSession, inviter_id: str, phone: str) -> Invite:
    """Record a pending invite."""
    invite = Invite(inviter_id=inviter_id, phone=phone, status="pending")
    session.add(invite)
    await session.flush()
    return invite


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
    stmt = update(User).where(User.status == "active").values(invites_left=User.invites_left + count)
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


async def bump_counters(session: AsyncSession, joined: int = 0, admitted: int = 0) -> tuple[int, int]:
    """Add to the line's totals atomically; returns (joined, admitted) after the change."""
    stmt = (
        update(WaitlistCounters)
        .where(WaitlistCounters.id == 1)
        .values(joined=WaitlistCounters.joined + joined, admitted=WaitlistCounters.admitted + admitted)
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


async def leave_waitlist(session: AsyncSession, user_id: str, admitted_by: str, now: dt.datetime) -> bool:
    """Mark a person's entry admitted; False if it was not waiting (someone else got there first)."""
    result = await session.execute(
        update(WaitlistEntry)
        .where(WaitlistEntry.user_id == user_id, WaitlistEntry.admitted_at.is_(None))
        .values(admitted_at=now, admitted_by=admitted_by)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await bump_counters(session, admitted=1)
    return True


async def waiting_ahead_of(session: AsyncSession, seq: int) -> int:
    """How many people wait ahead of the entry with this sequence number.

    Everyone between the head of the line and ``seq`` waits, except those let in out of order
    (claims, invites): both are index look-ups, so this stays cheap with millions in line.
    """
    head = await session.scalar(
        select(func.min(WaitlistEntry.seq)).where(WaitlistEntry.admitted_at.is_(None))
    )
    if head is None or head >= seq:
        return 0
    skipped = await session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(
            WaitlistEntry.admitted_at.is_not(None),
            WaitlistEntry.seq > head,
            WaitlistEntry.seq < seq,
        )
    )
    return int(seq - head - (skipped or 0))


async def waiting_total(session: AsyncSession) -> int:
    """How many people wait (from the running totals)."""
    row = (
        await session.execute(select(WaitlistCounters.joined, WaitlistCounters.admitted).where(WaitlistCounters.id == 1))
    ).one_or_none()
    return 0 if row is None else int(row[0] - row[1])


async def drop_by_id(session: AsyncSession, drop_id: str) -> PassDrop | None:
    """A drop that already ran under this id."""
    return await session.get(PassDrop, drop_id)


async def add_drop(session: AsyncSession, drop_id: str, requested: int, now: dt.datetime) -> PassDrop:
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
    return (await session.scalars(select(PassDrop).where(PassDrop.status == "running").order_by(PassDrop.created_at))).all()


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
        select(PassWindow).where(PassWindow.opens_at <= now).order_by(PassWindow.opens_at.desc()).limit(1)
    )


async def window_by_id(session: AsyncSession, window_id: str) -> PassWindow | None:
    """One claim window."""
    return await session.get(PassWindow, window_id)


async def close_window(session: AsyncSession, window_id: str, now: dt.datetime) -> None:
    """End a window now."""
    await session.execute(update(PassWindow).where(PassWindow.id == window_id).values(closes_at=now))


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
            .where(WaitlistEntry.user_id.in_(user_ids[start : start + 1000]), WaitlistEntry.admitted_at.is_(None))
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
            (await session.scalars(select(PassGrant.user_id).where(PassGrant.user_id.in_(user_ids[start : start + 1000])))).all()
        )
    return found


async def count_off_passes(session: AsyncSession, window_id: str, count: int, now: dt.datetime) -> bool:
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
    session: AsyncSession, window_id: str, user_ids: Sequence[str], now: dt.datetime, counted: bool = False
) -> None:
    """Record passes granted in a window, in bulk (and count them, unless ``counted`` already)."""
    if not user_ids:
        return
    await session.execute(
        insert(PassGrant), [{"window_id": window_id, "user_id": uid, "granted_at": now} for uid in user_ids]
    )
    if not counted:
        await session.execute(
            update(PassWindow).where(PassWindow.id == window_id).values(granted=PassWindow.granted + len(user_ids))
        )


async def granted_users(session: AsyncSession, window_id: str) -> set[str]:
    """Everyone granted a pass in a window."""
    return set((await session.scalars(select(PassGrant.user_id).where(PassGrant.window_id == window_id))).all())


async def recent_drops(session: AsyncSession, limit: int) -> Sequence[PassDrop]:
    """The newest drops."""
    return (await session.scalars(select(PassDrop).order_by(PassDrop.created_at.desc()).limit(limit))).all()


async def recent_windows(session: AsyncSession, limit: int) -> Sequence[PassWindow]:
    """The newest claim windows."""
    return (await session.scalars(select(PassWindow).order_by(PassWindow.created_at.desc()).limit(limit))).all()


async def grant_span(session: AsyncSession, window_id: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """When a window's first and last passes were granted."""
    row = (
        await session.execute(
            select(func.min(PassGrant.granted_at), func.max(PassGrant.granted_at)).where(PassGrant.window_id == window_id)
        )
    ).one()
    return row[0], row[1]


async def grants_since(session: AsyncSession, since: dt.datetime) -> int:
    """How many passes were granted since ``since``."""
    return int(
        await session.scalar(select(func.count()).select_from(PassGrant).where(PassGrant.granted_at >= since)) or 0
    )


async def counters(session: AsyncSession) -> tuple[int, int]:
    """The line's totals: (joined, admitted)."""
    row = (
        await session.execute(select(WaitlistCounters.joined, WaitlistCounters.admitted).where(WaitlistCounters.id == 1))
    ).one_or_none()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


async def admit_head(
    session: AsyncSession, count: int, tag: str, via: str, invites: int, notice: str, now: dt.datetime,
    after: int = 0,
) -> tuple[int, int]:
    """Admit the next ``count`` in line with set-based statements; returns how many.

    The head of the line is a range of places, so the whole batch is three statements whatever
    its size: mark the range admitted, activate its accounts, write its notices (server-side
    INSERT … SELECT, no rows travel through Python). Entries in the range that someone else
    admitted meanwhile are skipped by the ``admitted_at IS NULL`` re-check under the row lock.
    ``after`` (a place known to be behind the head) lets the search skip the index entries of
    people admitted earlier, which PostgreSQL keeps until it vacuums. Returns (admitted, last
    place of the batch).
    """
    from mitalk.network.models import Notification

    bounds = (
        await session.execute(
            select(func.min(WaitlistEntry.seq), func.max(WaitlistEntry.seq)).where(
                WaitlistEntry.seq.in_(
                    select(WaitlistEntry.seq)
                    .where(WaitlistEntry.admitted_at.is_(None), WaitlistEntry.seq > after)
                    .order_by(WaitlistEntry.seq)
                    .limit(count)
                    .scalar_subquery()
                )
            )
        )
    ).one()
    if bounds[0] is None:
        return 0, after
    low, high = int(bounds[0]), int(bounds[1])
    in_batch = (WaitlistEntry.seq >= low, WaitlistEntry.seq <= high)
    result = await session.execute(
        update(WaitlistEntry)
        .where(*in_batch, WaitlistEntry.admitted_at.is_(None))
        .values(admitted_at=now, admitted_by=tag)
    )
    admitted = int(result.rowcount)  # type: ignore[attr-defined]
    if not admitted:
        return 0, high
    batch_users = select(WaitlistEntry.user_id).where(*in_batch, WaitlistEntry.admitted_by == tag)
    await session.execute(
        update(User)
        .where(User.id.in_(batch_users), User.status == "waitlisted")
        .values(status="active", admitted_via=via, activated_at=now, invites_left=invites)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(Notification).from_select(
            ["user_id", "kind", "dedupe_key", "body", "created_at", "sms_status", "sms_attempts", "sms_next_at"],
            select(
                WaitlistEntry.user_id,
                literal("pass_granted"),
                literal("pass:") + WaitlistEntry.user_id,
                literal(notice),
                literal(now, UTCDateTime),
                literal("pending"),
                literal(0),
                literal(now, UTCDateTime),
            ).where(*in_batch, WaitlistEntry.admitted_by == tag),
        )
    )
    await bump_counters(session, admitted=admitted)
    return admitted, high
