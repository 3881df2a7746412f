"""The rules of staged access: who may enter in which phase, invites, waitlist and passes."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import repository as repo
from mitalk.access.errors import (
    AlreadyInvited,
    AlreadyMember,
    CannotSuspendStaff,
    DropAlreadyRan,
    DropInterrupted,
    InvalidUntil,
    InviteNotPending,
    LettingInClosed,
    MemberNotFound,
    NoInvitesLeft,
    NotEligible,
    SoldOut,
    StaffOnly,
    WindowAlreadyOpen,
    WindowClosed,
)
from mitalk.access.models import Invite, PassWindow
from mitalk.access.schemas import DropStats, SuspensionOut, WaitlistStatsOut, WindowStats
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts import service as accounts
from mitalk.accounts.models import User
from mitalk.accounts.phones import country_of
from mitalk.accounts.service import Admission, Claimant, text_charges
from mitalk.accounts.sms import SmsSender
from mitalk.core.database import after_commit
from mitalk.core.errors import AppError, Forbidden, NotFound, RateLimited
from mitalk.core.messages import Message, language_of_region, render
from mitalk.core.ratelimit import RateLimiter
from mitalk.core.settings import Settings
from mitalk.notifications import service as notifications
from mitalk.notifications.service import Kind
from mitalk.realtime.bus import EventBus


class Phase(StrEnum):
    """Who may enter: staff only, staff + invited + passes, or everyone."""

    internal = "internal"
    invite = "invite"
    open = "open"


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


# The rules above as signing in asks for them (accounts sits below access; the app hands this in).
ADMISSION = Admission(place=place_new_account, refresh=refresh_admission)


async def is_staff(session: AsyncSession, user: User) -> bool:
    """Whether the account's number is on the staff list."""
    return await repo.is_staff(session, user.phone)


async def position_of(session: AsyncSession, user: User) -> WaitlistPosition | None:
    """A waitlister's position and the waitlist's size; None for members."""
    if user.status != "waitlisted":
        return None
    place = await repo.place_in_line(session, user.id)
    return None if place is None else WaitlistPosition(position=place[0], total=place[1])


class LineSnapshot:
    """The line as of one value of its ``admitted`` total: its head and who behind the head was
    let in out of order. Anyone's place is then a subtraction and a binary search, exact while
    the total is unchanged (joins do not move anyone's place, only the count of people). A
    node's account sockets share one: thousands of hellos read a sequence number and the totals
    (one row each), not the count of everyone let in ahead of them."""

    def __init__(self) -> None:
        self.admitted_total = -1
        self.head: int | None = None
        self.admitted: list[int] = []
        self._lock = asyncio.Lock()

    async def place_of(self, session: AsyncSession, user_id: str) -> WaitlistPosition | None:
        """A waitlister's place (None: not waiting), exact as of the totals read with it."""
        found = await repo.waiting_seq_and_line(session, user_id)
        if found is None:
            return None
        seq, joined, admitted_total = found
        # Someone was let in since (or nobody waited then, and the first to join since is the
        # head now): look again, once for everyone waiting on the lock.
        if self.admitted_total < admitted_total or self.head is None:
            async with self._lock:
                if self.admitted_total < admitted_total or self.head is None:
                    head = await repo.waiting_head(session)
                    self.admitted = [] if head is None else await repo.admitted_after(session, head)
                    self.head = head
                    # Read after the totals: at least as new as them; exact again next time.
                    self.admitted_total = admitted_total
        head = self.head if self.head is not None else seq
        if seq <= head:  # (below it: let in just now; the next look at the line says so)
            return WaitlistPosition(position=1, total=joined - admitted_total)
        skipped = bisect.bisect_left(self.admitted, seq)
        return WaitlistPosition(position=seq - head - skipped + 1, total=joined - admitted_total)


def places_in_line(
    seqs: dict[str, int], head: int | None, before: int, admitted: list[int], total: int
) -> dict[str, WaitlistPosition | None]:
    """Many waitlisters' places at once (the account sockets of a node), from one look at the
    line: ``head`` its first waiting sequence number, ``before`` how many were let in out of
    order between the head and the lowest of ``seqs`` above it, ``admitted`` the sorted sequence
    numbers let in from there to the highest. None: that person no longer waits."""
    places: dict[str, WaitlistPosition | None] = {}
    for user_id, seq in seqs.items():
        if head is None or seq < head:
            places[user_id] = None
            continue
        skipped = bisect.bisect_left(admitted, seq)
        if skipped < len(admitted) and admitted[skipped] == seq:
            places[user_id] = None
            continue
        places[user_id] = WaitlistPosition(
            position=seq - head - (before + skipped if seq > head else 0) + 1, total=total
        )
    return places


# --- invites ---------------------------------------------------------------------------------


INVITES_WINDOW = dt.timedelta(hours=24)
MEMBER_INVITED_NOTICE = Message("notice.invited_as_member")


@dataclass(frozen=True)
class Texting:
    """What an invite's text message needs: the sender, the text budgets and who asks."""

    sms: SmsSender
    limiter: RateLimiter
    address: str  # the inviter's client address: its network's budget pays too


def invite_text(settings: Settings, inviter: User, phone: str) -> str:
    """The text an invited number gets: in its country's language when that is one of ours
    (the person does not know Mi Talk yet; their number says more about what they read than
    the inviter's app does), else in the inviter's. No name in it: words a member chose never
    go out from the service's number (a name such as 'Your bank: call …' would)."""
    language = language_of_region(country_of(phone)) or inviter.language
    if settings.public_url:
        return render("sms.invite_link", language, url=settings.public_url)
    return render("sms.invite", language)


async def invite(
    session: AsyncSession,
    settings: Settings,
    bus: EventBus,
    inviter: User,
    phone: str,
    now: dt.datetime,
    texting: Texting | None = None,
) -> Invite:
    """Invite a number: spends one invite; a number already waiting is let in at once.

    An invite to a member's number is made like any other (pending, revocable, the invite
    back when revoked): the answer never tells the inviter whether a number belongs to a
    member, as signing in never tells whether a number is registered. The member gets a
    notice linking to the inviter instead (once per inviter).

    With ``texting``, anyone else gets a text message saying so, after the commit. Every invite
    spends the sign-in text budgets (the number's, the inviter's network's, the number block's,
    the country's, the deployment's), a member's number too, so a full budget never tells
    members apart; a full one refuses the invite (429, nothing spent).
    """
    existing = await accounts_repo.user_by_phone(session, phone)
    if await repo.pending_invite_for(session, phone) is not None:
        raise AlreadyInvited()
    if not await repo.take_invite(session, inviter.id):
        raise NoInvitesLeft()
    # Counted after take_invite, which holds the inviter's row: parallel invites count in turn.
    sent = await repo.invites_sent_since(session, inviter.id, now - INVITES_WINDOW)
    per_day = settings.invites_per_day
    if len(sent) >= per_day:
        wait = max(1, int((sent[len(sent) - per_day] + INVITES_WINDOW - now).total_seconds()) + 1)
        raise RateLimited(
            wait,
            f"At most {per_day} invites a day, revoked ones included. Try again in "
            f"{wait // 60 + 1} minutes.",
        )
    if texting is not None:
        await texting.limiter.take(text_charges(settings, phone, texting.address))
    await session.refresh(inviter, ["invites_left"])
    created = await repo.add_invite(session, inviter.id, phone, now)
    if texting is not None and (existing is None or existing.status != "active"):
        body, sms, key = invite_text(settings, inviter, phone), texting.sms, f"invite:{created.id}"

        async def deliver() -> None:
            await sms.send(phone, body, key=key)

        after_commit(session, deliver)
    if existing is not None and existing.status == "active":
        if existing.id != inviter.id:
            await notifications.notify(
                session, bus, existing.id, Kind.invited_as_member, MEMBER_INVITED_NOTICE,
                f"invited-as-member:{inviter.id}", now=now, data={"user_id": inviter.id},
            )  # fmt: skip
    elif existing is not None:
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


async def add_staff(
    session: AsyncSession, settings: Settings, phone: str, now: dt.datetime
) -> bool:
    """Put a number on the staff list; a waitlisted account of that number is let in."""
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


PASS_NOTICE = Message("notice.pass_granted")


async def notify_admitted(session: AsyncSession, user_ids: list[str], now: dt.datetime) -> None:
    """An in-app notice and a text message for each person a pass let in (once per person)."""
    await notifications.notify_quietly(
        session, user_ids, Kind.pass_granted, PASS_NOTICE, "pass", now=now, sms=True
    )


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
        return DropResult(
            found.id, found.admitted, already_ran=found.status == "done", resumed=True
        )
    drop_id = drop_id or f"drop-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    await repo.add_drop(session, drop_id, count, now)
    return DropResult(drop_id, 0, already_ran=False, resumed=False)


async def drop_batch(
    session: AsyncSession, settings: Settings, drop_id: str, batch_size: int, now: dt.datetime,
    after: int = 0,
) -> tuple[int, bool, tuple[int, int, int] | None]:
    """Admit the next batch of a drop; returns (admitted so far, all admitted, the batch's first
    and last place and how many it admitted, or None when it admitted nobody).

    The batch's admissions and the drop's count commit together, so after a crash the drop
    resumes exactly where its last committed batch ended. Their notices are written afterwards
    (``tell_drop_range``): a grant does not wait for the notices of a whole drop.
    """
    drop = await repo.lock_drop(session, drop_id)
    if drop is None:
        raise NotFound(f"No drop {drop_id}.")
    if drop.status == "done":
        return drop.admitted, True, None
    wanted = min(batch_size, drop.requested - drop.admitted)
    admitted, first, last = (
        await repo.admit_head(
            session, wanted, f"drop:{drop_id}", "drop", settings.default_invites, now, after
        )
        if wanted > 0
        else (0, after, after)
    )
    drop.admitted += admitted
    # A short batch means the line ran out, or (PostgreSQL) another drop took rows of this
    # range while we waited for their locks: only an empty line ends the drop early.
    granted = drop.admitted >= drop.requested or (
        admitted < wanted and await repo.waiting_total(session) == 0
    )
    await session.flush()
    return drop.admitted, granted, ((first, last, admitted) if admitted else None)


async def tell_drop_range(
    session: AsyncSession, drop_id: str, first: int, last: int, now: dt.datetime
) -> None:
    """Write the pass notices (and their text messages) of the people a drop let in at places
    ``first``…``last``: one INSERT … SELECT; anyone told already is skipped."""
    await notifications.notify_quietly_from(
        session, repo.admitted_by(f"drop:{drop_id}", first, last), Kind.pass_granted,
        PASS_NOTICE, "pass", now=now, sms=True,
    )


async def tell_whole_drop(session: AsyncSession, drop_id: str, now: dt.datetime) -> None:
    """Write the missing pass notices of everyone a drop let in, wherever they are in line: a
    resumed drop's catch-up for grants committed by a run that died before telling them."""
    await notifications.notify_quietly_from(
        session, repo.admitted_by(f"drop:{drop_id}"), Kind.pass_granted, PASS_NOTICE, "pass",
        now=now, sms=True,
    )


async def finish_drop(session: AsyncSession, drop_id: str, now: dt.datetime) -> int:
    """Mark a drop done once everyone it let in is told; returns how many it admitted."""
    drop = await repo.lock_drop(session, drop_id)
    if drop is None:
        raise NotFound(f"No drop {drop_id}.")
    if drop.status != "done":
        drop.status, drop.finished_at = "done", now
        await session.flush()
    return drop.admitted


def window_state(
    window: PassWindow, now: dt.datetime
) -> Literal["scheduled", "open", "sold_out", "closed"]:
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


def eligible(user: Claimant, announced_at: dt.datetime) -> bool:
    """Only accounts that existed when a window was announced may claim in it.

    A window is announced (scheduled or opened) before the rush: accounts made after that
    moment are refused (``not_eligible``), so nobody can mint fresh accounts to enter the race.
    """
    return user.created_at is None or user.created_at <= announced_at


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
        # ``user`` may have been read just before this person's other request committed the
        # last pass: their own grant, not anyone's sold-out window, is the answer then.
        if await repo.grant_of(session, user.id) is not None:
            return "granted"
        latest = await repo.latest_window(session, now)
        if latest is not None and latest.granted >= latest.total:
            raise SoldOut()
        raise WindowClosed()
    if not eligible(user, window.created_at):
        raise NotEligible()
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


async def waitlist_stats(
    session: AsyncSession, now: dt.datetime, limit: int = 20
) -> WaitlistStatsOut:
    """Size of the line, passes per drop and window, and the current claim rate."""
    joined, admitted = await repo.counters(session)
    windows = []
    for w in await repo.recent_windows(session, limit):
        first, last = await repo.grant_span(session, w.id)
        span = (last - first).total_seconds() if first and last else 0.0
        windows.append(
            WindowStats(
                id=w.id,
                state=window_state(w, now),
                total=w.total,
                granted=w.granted,
                opens_at=w.opens_at,
                closes_at=w.closes_at,
                first_grant_at=first,
                last_grant_at=last,
                grants_per_second=round(w.granted / span, 1) if span > 0 else None,
            )
        )
    drops = [
        DropStats(
            id=d.id,
            requested=d.requested,
            admitted=d.admitted,
            status="done" if d.status == "done" else "running",
            created_at=d.created_at,
            finished_at=d.finished_at,
        )
        for d in await repo.recent_drops(session, limit)
    ]
    recent = await repo.grants_since(session, now - dt.timedelta(seconds=10))
    return WaitlistStatsOut(
        joined=joined, admitted=admitted, waiting=joined - admitted,
        claims_per_second_last_10s=recent / 10, drops=drops, windows=windows,
    )


# --- suspension (staff) ----------------------------------------------------------------------


async def _staff_and_target(
    session: AsyncSession, staff: User, user_id: str, lock: bool = False
) -> User:
    if not await is_staff(session, staff):
        raise StaffOnly()
    target = await accounts_repo.user_by_id(session, user_id, for_update=lock)
    if target is None:
        raise MemberNotFound()
    return target


MAX_SUSPENSION = dt.timedelta(days=3650)  # a longer one is "until lifted"


def suspension_out(user: User, now: dt.datetime, can_suspend: bool) -> SuspensionOut:
    """An account's suspension as staff see it."""
    held = accounts.is_suspended(user, now)
    return SuspensionOut(
        user_id=user.id,
        suspended=held,
        since=user.suspended_at if held else None,
        until=user.suspended_until if held else None,
        reason=user.suspended_reason if held else None,
        by=user.suspended_by if held else None,
        can_suspend=can_suspend,
    )


async def suspension_of(
    session: AsyncSession, staff: User, user_id: str, now: dt.datetime
) -> SuspensionOut:
    """Staff: whether an account is suspended, until when, why and by whom."""
    target = await _staff_and_target(session, staff, user_id)
    return suspension_out(target, now, can_suspend=not await is_staff(session, target))


async def suspend_account(
    session: AsyncSession,
    bus: EventBus,
    staff: User,
    user_id: str,
    until: dt.datetime | None,
    reason: str,
    now: dt.datetime,
) -> SuspensionOut:
    """Staff: suspend an account (``accounts.service.suspend``); staff cannot be suspended, so
    nobody locks the company's own people out (take a number off the staff list first)."""
    # Locked, as sign-in locks it: no session can be added between this and the commit.
    target = await _staff_and_target(session, staff, user_id, lock=True)
    if await is_staff(session, target):
        raise CannotSuspendStaff()
    if until is not None and not now < until <= now + MAX_SUSPENSION:
        raise InvalidUntil()
    await accounts.suspend(session, bus, target, staff.id, until, reason, now)
    return suspension_out(target, now, can_suspend=True)


async def lift_suspension(
    session: AsyncSession, staff: User, user_id: str, now: dt.datetime
) -> SuspensionOut:
    """Staff: end a suspension now (nothing happens if there is none)."""
    target = await _staff_and_target(session, staff, user_id)
    accounts.lift_suspension(target)
    await session.flush()
    return suspension_out(target, now, can_suspend=not await is_staff(session, target))
