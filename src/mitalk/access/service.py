"""The rules of staged access: who may enter in which phase, invites, waitlist and passes."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import repository as repo
from mitalk.access.models import Invite, PassWindow
from mitalk.accounts.models import User
from mitalk.core.errors import AppError, Conflict, Forbidden, NotFound
from mitalk.core.settings import Settings

if TYPE_CHECKING:
    from mitalk.access.schemas import WaitlistStatsOut


class Phase(StrEnum):
    """Who may enter: staff only, staff + invited + passes, or everyone."""

    internal = "internal"
    invite = "invite"
    open = "open"


class NoInvitesLeft(AppError):
    status, code, message = 403, "no_invites_left", "You have no invites left."


class AlreadyMember(Conflict):
    code, message = "already_member", "This number already belongs to a member."


class AlreadyInvited(Conflict):
    code, message = "already_invited", "This number has already been invited."


class InviteNotPending(Conflict):
    code, message = "invite_not_pending", "This invite was already used and cannot be revoked."


class SoldOut(Conflict):
    code, message = "sold_out", "All passes of this window have been claimed."


class WindowClosed(Conflict):
    code, message = "window_closed", "No claim window is open right now."


class DropAlreadyRan(Conflict):
    code, message = "drop_already_ran", "A drop with this id already ran."


class DropInterrupted(Conflict):
    code, message = "drop_interrupted", "An earlier drop was interrupted; finish it first."


class LettingInClosed(Conflict):
    code, message = "letting_in_closed", "Only staff may enter in the internal phase: no one can be let in yet."


class WindowAlreadyOpen(Conflict):
    code, message = "window_already_open", "Another claim window is open or scheduled."


@dataclass(frozen=True)
class WaitlistPosition:
    """A waitlister's place in line (1 is next) and how many wait."""

    position: int
    total: int


@dataclass(frozen=True)
class DropResult:
    """What a drop did: its id, how many it admitted, whether it had already run or resumed."""

    drop_id: str
    admitted: int
    already_ran: bool
    resumed: bool = False


async def current_phase(session: AsyncSession) -> Phase:
    """The deployment's phase."""
    return Phase(await repo.phase(session))


async def change_phase(session: AsyncSession, phase: Phase, now: dt.datetime) -> None:
    """Set the phase; it can move both ways. Waitlisters it lets in are admitted as they return."""
    await repo.set_phase(session, phase.value, now)


async def admission_reason(session: AsyncSession, phone: str) -> str | None:
    """Why this number may enter now (``staff``, ``open``, ``invite``), or None if it must wait."""
    if await repo.is_staff(session, phone):
        return "staff"
    phase = await current_phase(session)
    if phase is Phase.open:
        return "open"
    if phase is Phase.invite and await repo.pending_invite_for(session, phone) is not None:
        return "invite"
    return None


async def _activate(
    session: AsyncSession, settings: Settings, user: User, via: str, now: dt.datetime
) -> None:
    """Turn a waitlisted account into a member, and close what let it in."""
    if via == "invite":
        invite = await repo.pending_invite_for(session, user.phone)
        if invite is not None:
            invite.status, invite.used_at, invite.invitee_id = "used", now, user.id
    await repo.leave_waitlist(session, user.id, via, now)
    user.status, user.admitted_via, user.activated_at = "active", via, now
    user.invites_left = settings.default_invites
    await session.flush()


async def place_new_account(
    session: AsyncSession, settings: Settings, user: User, now: dt.datetime
) -> None:
    """Decide a freshly verified account's fate: member now, or a place in the waitlist."""
    reason = await admission_reason(session, user.phone)
    if reason is None:
        user.status = "waitlisted"
        await repo.join_waitlist(session, user.id, now)
    else:
        user.status = "waitlisted"
        await _activate(session, settings, user, reason, now)


async def refresh_admission(
    session: AsyncSession, settings: Settings, user: User, now: dt.datetime
) -> User:
    """Let a waitlisted account in if the rules now allow (phase opened, invited, made staff)."""
    if user.status == "waitlisted":
        reason = await admission_reason(session, user.phone)
        if reason is not None:
            await _activate(session, settings, user, reason, now)
    return user


async def is_staff(session: AsyncSession, user: User) -> bool:
    """Whether the account's number is on the staff list."""
    return await repo.is_staff(session, user.phone)


async def position_of(session: AsyncSession, user: User) -> WaitlistPosition | None:
    """A waitlister's position and the waitlist's size; None for members."""
    if user.status != "waitlisted":
        return None
    entry = await repo.waitlist_entry(session, user.id)
    if entry is None or entry.admitted_at is not None:
        return None
    ahead = await repo.waiting_ahead_of(session, entry.seq)
    return WaitlistPosition(position=ahead + 1, total=await repo.waiting_total(session))


# --- invites ---------------------------------------------------------------------------------


async def invite(
    session: AsyncSession, settings: Settings, inviter: User, phone: str, now: dt.datetime
) -> Invite:
    """Invite a number: spends one invite; a number already waiting is let in at once."""
    from mitalk.accounts import repository as accounts_repo

    existing = await accounts_repo.user_by_phone(session, phone)
    if existing is not None and existing.status == "active":
        raise AlreadyMember()
    if await repo.pending_invite_for(session, phone) is not None:
        raise AlreadyInvited()
    if not await repo.take_invite(session, inviter.id):
        raise NoInvitesLeft()
    await session.refresh(inviter, ["invites_left"])
    created = await repo.add_invite(session, inviter.id, phone)
    if existing is not None:
        await refresh_admission(session, settings, existing, now)
    return created


async def invites_of(session: AsyncSession, inviter: User) -> list[Invite]:
    """The invites a member sent, pending and used."""
    return list(await repo.invites_of(session, inviter.id))


async def revoke_invite(session: AsyncSession, inviter: User, invite_id: str) -> None:
    """Withdraw a pending invite and give the invite back."""
    found = await repo.invite_by_id(session, invite_id)
    if found is None or found.inviter_id != inviter.id or found.status == "revoked":
        raise NotFound("No such invite of yours.")
    if found.status != "pending":
        raise InviteNotPending()
    found.status = "revoked"
    inviter.invites_left += 1
    await session.flush()


async def grant_invites(session: AsyncSession, count: int, user: User | None) -> int:
    """Give ``count`` more invites to one member or (``user`` None) every member."""
    if user is not None and user.status != "active":
        raise Forbidden("Only members can invite; this account is still on the waitlist.")
    return await repo.give_invites(session, count, None if user is None else user.id)


async def let_in_by_member(
    session: AsyncSession, settings: Settings, member: User, user: User, now: dt.datetime
) -> None:
    """A member lets a waitlisted contact in; it spends one of the member's invites.

    The caller checks that the number is one the member may let in (network rules). The
    admission is the same as a pass's: off the waitlist exactly once, a member with the usual
    invites, and the same "you're in" notice and text message.
    """
    if member.status != "active":
        raise Forbidden("Only members can let people in.")
    if await current_phase(session) is Phase.internal:
        raise LettingInClosed()
    if user.status != "waitlisted":
        raise AlreadyMember("This person is a member already.")
    if not await repo.take_invite(session, member.id):
        raise NoInvitesLeft("You have no invites left: letting someone in spends one.")
    await session.refresh(member, ["invites_left"])
    if not await repo.leave_waitlist(session, user.id, f"contact:{member.id}", now):
        raise AlreadyMember("This person was let in meanwhile.")
    user.status, user.admitted_via, user.activated_at = "active", "contact", now
    user.invites_left = settings.default_invites
    await notify_admitted(session, [user.id], now)
    await session.flush()


# --- staff -----------------------------------------------------------------------------------


async def add_staff(session: AsyncSession, settings: Settings, phone: str, now: dt.datetime) -> bool:
    """Put a number on the staff list; a waitlisted account of that number is let in."""
    from mitalk.accounts import repository as accounts_repo

    added = await repo.add_staff(session, phone)
    user = await accounts_repo.user_by_phone(session, phone)
    if user is not None:
        await refresh_admission(session, settings, user, now)
    return added


async def remove_staff(session: AsyncSession, phone: str) -> bool:
    """Take a number off the staff list (the account stays a member)."""
    return await repo.remove_staff(session, phone)


async def staff_phones(session: AsyncSession) -> list[str]:
    """The staff list."""
    return list(await repo.staff_phones(session))


# --- passes ----------------------------------------------------------------------------------


PASS_NOTICE = "You're in! Your Mi Talk pass is ready: open Mi Talk and join a room."


async def notify_admitted(session: AsyncSession, user_ids: list[str], now: dt.datetime) -> None:
    """An in-app notice and a text message for each person a pass let in (once per person)."""
    from mitalk.network import repository as network_repo

    await network_repo.add_notices(session, user_ids, "pass_granted", "pass", PASS_NOTICE, now, sms=True)


async def begin_drop(
    session: AsyncSession, count: int, now: dt.datetime, drop_id: str | None = None
) -> DropResult:
    """Record a drop of ``count`` (or find the one to resume); no one is admitted yet.

    Without an id, an interrupted drop of the same size is resumed rather than started anew, so
    running the same command again after a crash never admits twice.
    """
    if count < 1:
        raise AppError("A drop admits at least one person.", code="invalid_count")
    if drop_id is not None:
        found = await repo.drop_by_id(session, drop_id)
    else:
        running = list(await repo.running_drops(session))
        found = running[0] if running else None
        if found is not None and found.requested != count:
            raise DropInterrupted(
                f"Drop {found.id} was interrupted at {found.admitted} of {found.requested}. "
                f"Finish it with: mitalk admin passes drop {found.requested} --id {found.id}"
            )
    if found is not None:
        if found.requested != count:
            raise DropAlreadyRan(
                f"Drop {found.id} was for {found.requested} passes, not {count}; use another id."
            )
        return DropResult(found.id, found.admitted, already_ran=found.status == "done", resumed=True)
    drop_id = drop_id or f"drop-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    await repo.add_drop(session, drop_id, count, now)
    return DropResult(drop_id, 0, already_ran=False, resumed=False)


async def drop_batch(
    session: AsyncSession, settings: Settings, drop_id: str, batch_size: int, now: dt.datetime,
    after: int = 0,
) -> tuple[int, bool, int]:
    """Admit the next batch of a drop; returns (admitted so far, finished, last place taken).

    The batch's admissions, notices and the drop's count commit together, so after a crash the
    drop resumes exactly where its last committed batch ended.
    """
    drop = await repo.lock_drop(session, drop_id)
    if drop is None:
        raise NotFound(f"No drop {drop_id}.")
    if drop.status == "done":
        return drop.admitted, True, after
    wanted = min(batch_size, drop.requested - drop.admitted)
    admitted, last = (
        await repo.admit_head(
            session, wanted, f"drop:{drop_id}", "drop", settings.default_invites, PASS_NOTICE, now, after
        )
        if wanted > 0
        else (0, after)
    )
    drop.admitted += admitted
    # A short batch means the line ran out, or (PostgreSQL) another drop took rows of this
    # range while we waited for their locks: only an empty line ends the drop early.
    finished = drop.admitted >= drop.requested or (
        admitted < wanted and await repo.waiting_total(session) == 0
    )
    if finished:
        drop.status, drop.finished_at = "done", now
    await session.flush()
    return drop.admitted, finished, last


def window_state(window: PassWindow, now: dt.datetime) -> Literal["scheduled", "open", "sold_out", "closed"]:
    """Where a window stands at ``now``."""
    if window.opens_at > now:
        return "scheduled"
    if window.granted >= window.total:
        return "sold_out"
    if window.closes_at is not None and window.closes_at <= now:
        return "closed"
    return "open"


async def open_window(
    session: AsyncSession,
    total: int,
    now: dt.datetime,
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
) -> PassWindow:
    """Schedule a claim window of ``total`` passes; only one may be open or scheduled at a time."""
    if total < 1:
        raise AppError("A claim window has at least one pass.", code="invalid_count")
    opens_at = opens_at or now
    if closes_at is not None and closes_at <= opens_at:
        raise AppError("The window must close after it opens.", code="invalid_window")
    if closes_at is not None and closes_at <= now:
        raise AppError("The window would already be closed.", code="invalid_window")
    pending = await repo.unfinished_windows(session, now)
    if pending:
        w = pending[0]
        raise WindowAlreadyOpen(
            f"Window {w.id} ({w.granted}/{w.total} claimed) is open or scheduled; close it first."
        )
    return await repo.add_window(session, total, opens_at, closes_at)


async def close_window(session: AsyncSession, now: dt.datetime) -> PassWindow | None:
    """Close the open or scheduled window now; returns it, or None if there was none."""
    pending = await repo.unfinished_windows(session, now)
    if not pending:
        return None
    await repo.close_window(session, pending[0].id, now)
    await session.refresh(pending[0])
    return pending[0]


async def claim_window(session: AsyncSession, now: dt.datetime) -> PassWindow | None:
    """The window that matters to waitlisters now: the open or next one, else the last one."""
    pending = await repo.unfinished_windows(session, now)
    if pending:
        return pending[0]
    return await repo.latest_window(session, now)


async def claim_pass(
    session: AsyncSession, settings: Settings, user: User, now: dt.datetime
) -> Literal["granted"]:
    """Claim a pass in the open window: exactly ``total`` are ever granted, one per person.

    Order matters for exactness under concurrency: the person's waitlist entry is taken first
    (a second claim by the same person, or a drop admitting them, finds it gone), then one pass
    is counted off the window in a single conditional UPDATE, then the grant is recorded (unique
    per person, a last line of defence). All of it commits together or not at all.
    """
    if user.status == "active":
        if await repo.grant_of(session, user.id) is not None:
            return "granted"
        raise AlreadyMember("You are already a member: no pass needed.")
    window = next(
        (w for w in await repo.unfinished_windows(session, now) if w.opens_at <= now), None
    )
    if window is None:
        latest = await repo.latest_window(session, now)
        if latest is not None and latest.granted >= latest.total:
            raise SoldOut()
        raise WindowClosed()
    async with session.begin_nested():
        if not await repo.leave_waitlist(session, user.id, f"window:{window.id}", now):
            taken = True
        else:
            taken = False
            if not await repo.count_off_passes(session, window.id, 1, now):
                raise SoldOut()
            await repo.add_grants(session, window.id, [user.id], now, counted=True)
    if taken:
        # Someone (this person's other request, or a drop) admitted them meanwhile.
        await session.refresh(user)
        if await repo.grant_of(session, user.id) is not None:
            return "granted"
        raise AlreadyMember("You were let in meanwhile: no pass needed.")
    user.status, user.admitted_via, user.activated_at = "active", "window", now
    user.invites_left = settings.default_invites
    await notify_admitted(session, [user.id], now)
    await session.flush()
    return "granted"


async def waitlist_stats(session: AsyncSession, now: dt.datetime, limit: int = 20) -> "WaitlistStatsOut":
    """Size of the line, passes per drop and window, and the current claim rate."""
    from mitalk.access.schemas import DropStats, WaitlistStatsOut, WindowStats

    joined, admitted = await repo.counters(session)
    windows = []
    for w in await repo.recent_windows(session, limit):
        first, last = await repo.grant_span(session, w.id)
        span = (last - first).total_seconds() if first and last else 0.0
        windows.append(
            WindowStats(
                id=w.id, state=window_state(w, now), total=w.total, granted=w.granted,
                opens_at=w.opens_at, closes_at=w.closes_at, first_grant_at=first, last_grant_at=last,
                grants_per_second=round(w.granted / span, 1) if span > 0 else None,
            )
        )
    drops = [
        DropStats(
            id=d.id, requested=d.requested, admitted=d.admitted, status="done" if d.status == "done" else "running",
            created_at=d.created_at, finished_at=d.finished_at,
        )
        for d in await repo.recent_drops(session, limit)
    ]
    recent = await repo.grants_since(session, now - dt.timedelta(seconds=10))
    return WaitlistStatsOut(
        joined=joined, admitted=admitted, waiting=joined - admitted,
        claims_per_second_last_10s=recent / 10, drops=drops, windows=windows,
    )
