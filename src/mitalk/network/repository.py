"""Every SQL query of the network: profiles, avatars, follows, connections, blocks, room
visits, contact cards, uploaded contacts, and notifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mitalk.network.models import (
    Avatar,
    Block,
    Connection,
    ContactCard,
    ContactHash,
    Follow,
    Notification,
    PhoneDigest,
    Profile,
    RoomVisit,
    pair_key,
)


async def profile_of(session: AsyncSession, user_id: str) -> Profile | None:
    """A person's profile, if they wrote one."""
    return await session.get(Profile, user_id)


async def ensure_profile(session: AsyncSession, user_id: str) -> Profile:
    """A person's profile, created empty if missing."""
    profile = await session.get(Profile, user_id)
    if profile is None:
        profile = Profile(user_id=user_id, skills=[], links=[], open_to=[])
        session.add(profile)
        await session.flush()
    return profile


async def add_notices(
    session: AsyncSession, user_ids: Sequence[str], kind: str, key_prefix: str, body: str,
    now: dt.datetime, sms: bool,
) -> None:
    """Write one notice per person in bulk (the SMS outbox too); ``key_prefix:user`` is unique."""
    if not user_ids:
        return
    await session.execute(
        insert(Notification),
        [
            {
                "user_id": uid, "kind": kind, "dedupe_key": f"{key_prefix}:{uid}", "body": body,
                "created_at": now, "sms_status": "pending" if sms else "none",
                "sms_attempts": 0, "sms_next_at": now if sms else None,
            }
            for uid in user_ids
        ],
    )


async def notices_of(session: AsyncSession, user_id: str, limit: int) -> Sequence[Notification]:
    """A person's newest notices."""
    return (
        await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id.desc()).limit(limit)
        )
    ).all()


async def unread_count(session: AsyncSession, user_id: str) -> int:
    """How many of a person's notices are unread."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Notification).where(
                Notification.user_id == user_id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


async def mark_read(session: AsyncSession, user_id: str, up_to_id: int, now: dt.datetime) -> None:
    """Mark a person's notices up to ``up_to_id`` read."""
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.id <= up_to_id, Notification.read_at.is_(None))
        .values(read_at=now)
    )


async def lease_due_sms(
    session: AsyncSession, now: dt.datetime, lease_until: dt.datetime, limit: int, lock: bool
) -> Sequence[tuple[int, str, str, str]]:
    """Take up to ``limit`` text messages that are due (or whose lease ran out) for sending.

    Returns (id, phone, body, dedupe_key) and marks them ``sending`` until ``lease_until``.
    """
    from mitalk.accounts.models import User

    due = (
        select(Notification.id)
        .where(Notification.sms_status.in_(("pending", "sending")), Notification.sms_next_at <= now)
        .order_by(Notification.sms_next_at, Notification.id)
        .limit(limit)
    )
    if lock:
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.scalars(due)).all())
    if not ids:
        return []
    await session.execute(
        update(Notification)
        .where(Notification.id.in_(ids))
        .values(sms_status="sending", sms_next_at=lease_until, sms_attempts=Notification.sms_attempts + 1)
    )
    rows = await session.execute(
        select(Notification.id, User.phone, Notification.body, Notification.dedupe_key)
        .join(User, User.id == Notification.user_id)
        .where(Notification.id.in_(ids))
        .order_by(Notification.id)
    )
    return [(int(i), p, b, k) for i, p, b, k in rows.all()]


async def mark_sms_sent(session: AsyncSession, ids: Sequence[int], now: dt.datetime) -> None:
    """Record text messages as handed to the provider."""
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(Notification).where(Notification.id.in_(ids[start : start + 1000])).values(
                sms_status="sent", sms_sent_at=now, sms_next_at=None
            )
        )


async def mark_sms_failed(
    session: AsyncSession, notice_id: int, retry_at: dt.datetime | None
) -> None:
    """Put a message back for a retry at ``retry_at``, or give up on it (None)."""
    await session.execute(
        update(Notification).where(Notification.id == notice_id).values(
            sms_status="pending" if retry_at else "failed", sms_next_at=retry_at
        )
    )


async def sms_backlog(session: AsyncSession) -> dict[str, int]:
    """How many text messages are in each state."""
    rows = await session.execute(
        select(Notification.sms_status, func.count()).group_by(Notification.sms_status)
    )
    return {status: int(n) for status, n in rows.all()}


async def attempts_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, int]:
    """How many times each message was tried."""
    rows = await session.execute(
        select(Notification.id, Notification.sms_attempts).where(Notification.id.in_(ids))
    )
    return {int(i): int(n) for i, n in rows.all()}


# --- profiles and avatars ----------------------------------------------------------------------


async def profiles_of(session: AsyncSession, user_ids: Sequence[str]) -> dict[str, Profile]:
    """The profiles of several people, by id (people without one are missing)."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(Profile).where(Profile.user_id.in_(list(set(user_ids)))))
    return {p.user_id: p for p in rows.all()}


async def avatar_of(session: AsyncSession, user_id: str) -> Avatar | None:
    """A person's stored avatar, if any."""
    return await session.get(Avatar, user_id)


async def put_avatar(session: AsyncSession, user_id: str, content_hash: str, data: bytes, now: dt.datetime) -> None:
    """Store (or replace) a person's avatar and point their profile at it."""
    avatar = await session.get(Avatar, user_id)
    if avatar is None:
        session.add(Avatar(user_id=user_id, content_hash=content_hash, data=data, updated_at=now))
    else:
        avatar.content_hash, avatar.data, avatar.updated_at = content_hash, data, now
    profile = await ensure_profile(session, user_id)
    profile.avatar_hash = content_hash
    await session.flush()


async def delete_avatar(session: AsyncSession, user_id: str) -> None:
    """Remove a person's avatar."""
    await session.execute(delete(Avatar).where(Avatar.user_id == user_id))
    await session.execute(update(Profile).where(Profile.user_id == user_id).values(avatar_hash=None))


# --- blocks, follows, connections (helpers other contexts use) ----------------------------------


async def blocked_between_ids(session: AsyncSession, user_id: str) -> set[str]:
    """Everyone who blocked ``user_id`` or whom ``user_id`` blocked.

    Rooms and search use it to hide people and their rooms from each other, both ways.
    """
    rows = await session.execute(
        select(Block.blocked_id).where(Block.blocker_id == user_id).union(
            select(Block.blocker_id).where(Block.blocked_id == user_id)
        )
    )
    return {r[0] for r in rows.all()}


def blocked_between_subquery(user_id: str) -> Select[tuple[str]]:
    """The same set as :func:`blocked_between_ids`, as a subquery for ``NOT IN`` filters."""
    return select(Block.blocked_id).where(Block.blocker_id == user_id).union(
        select(Block.blocker_id).where(Block.blocked_id == user_id)
    )  # type: ignore[return-value]


async def is_blocked_between(session: AsyncSession, a: str, b: str) -> bool:
    """Whether either of two people blocked the other."""
    found = await session.scalar(
        select(Block.blocker_id).where(
            or_(and_(Block.blocker_id == a, Block.blocked_id == b), and_(Block.blocker_id == b, Block.blocked_id == a))
        ).limit(1)
    )
    return found is not None


async def followee_ids(session: AsyncSession, user_id: str) -> set[str]:
    """The people ``user_id`` follows."""
    return set((await session.scalars(select(Follow.followee_id).where(Follow.follower_id == user_id))).all())


async def connection_ids(session: AsyncSession, user_id: str) -> set[str]:
    """The people ``user_id`` is connected with (accepted connections only)."""
    rows = await session.execute(
        select(Connection.requester_id, Connection.addressee_id).where(
            Connection.status == "accepted",
            or_(Connection.requester_id == user_id, Connection.addressee_id == user_id),
        )
    )
    return {b if a == user_id else a for a, b in rows.all()}


async def follows(session: AsyncSession, follower_id: str, followee_id: str) -> bool:
    """Whether one person follows another."""
    return await session.get(Follow, (follower_id, followee_id)) is not None


async def count_followees(session: AsyncSession, user_id: str) -> int:
    """How many people a person follows."""
    return int(await session.scalar(select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)) or 0)


async def add_follow(session: AsyncSession, follower_id: str, followee_id: str, now: dt.datetime) -> bool:
    """Follow someone; False if already following."""
    if await follows(session, follower_id, followee_id):
        return False
    session.add(Follow(follower_id=follower_id, followee_id=followee_id, created_at=now))
    await session.flush()
    return True


async def remove_follow(session: AsyncSession, follower_id: str, followee_id: str) -> None:
    """Stop following someone (nothing happens if not following)."""
    await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )


async def connection_between(session: AsyncSession, a: str, b: str, lock: bool = False) -> Connection | None:
    """The one connection row of a pair (pending either way, or accepted), if any."""
    stmt = select(Connection).where(Connection.pair_key == pair_key(a, b))
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def connection_by_id(session: AsyncSession, connection_id: str) -> Connection | None:
    """One connection row, row-locked (answering and removing must not race)."""
    return await session.scalar(
        select(Connection).where(Connection.id == connection_id).with_for_update()
        .execution_options(populate_existing=True)
    )


async def add_connection(
    session: AsyncSession, requester_id: str, addressee_id: str, status: str, now: dt.datetime
) -> Connection:
    """Store a request (or, for accepted cards, a connection) between two people."""
    row = Connection(
        requester_id=requester_id, addressee_id=addressee_id, pair_key=pair_key(requester_id, addressee_id),
        status=status, created_at=now, responded_at=now if status == "accepted" else None,
    )
    session.add(row)
    await session.flush()
    return row


async def delete_connection(session: AsyncSession, connection_id: str) -> None:
    """Forget a request or a connection."""
    await session.execute(delete(Connection).where(Connection.id == connection_id))


async def requests_sent_since(session: AsyncSession, user_id: str, since: dt.datetime) -> int:
    """How many connection requests a person sent (still stored) since a time."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Connection).where(
                Connection.requester_id == user_id, Connection.created_at >= since
            )
        )
        or 0
    )


async def connections_of(session: AsyncSession, user_id: str) -> Sequence[Connection]:
    """A person's connections and pending requests both ways, newest first."""
    return (
        await session.scalars(
            select(Connection)
            .where(or_(Connection.requester_id == user_id, Connection.addressee_id == user_id))
            .order_by(func.coalesce(Connection.responded_at, Connection.created_at).desc(), Connection.id)
        )
    ).all()


async def add_block(session: AsyncSession, blocker_id: str, blocked_id: str, now: dt.datetime) -> bool:
    """Block someone; False if already blocked."""
    if await session.get(Block, (blocker_id, blocked_id)) is not None:
        return False
    session.add(Block(blocker_id=blocker_id, blocked_id=blocked_id, created_at=now))
    await session.flush()
    return True


async def remove_block(session: AsyncSession, blocker_id: str, blocked_id: str) -> None:
    """Lift a block (nothing happens if there was none)."""
    await session.execute(delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id))


async def count_blocks(session: AsyncSession, user_id: str) -> int:
    """How many people a person blocked."""
    return int(await session.scalar(select(func.count()).select_from(Block).where(Block.blocker_id == user_id)) or 0)


async def blocked_by(session: AsyncSession, user_id: str) -> list[str]:
    """The people a person blocked, newest first."""
    return list(
        (await session.scalars(
            select(Block.blocked_id).where(Block.blocker_id == user_id).order_by(Block.created_at.desc())
        )).all()
    )


async def sever(session: AsyncSession, a: str, b: str) -> None:
    """Remove follows both ways, the connection or request, pending cards, and each one's
    notices that link to the other (a request, a card, "started a room") between two people."""
    await session.execute(
        delete(Follow).where(
            or_(and_(Follow.follower_id == a, Follow.followee_id == b), and_(Follow.follower_id == b, Follow.followee_id == a))
        )
    )
    await session.execute(delete(Connection).where(Connection.pair_key == pair_key(a, b)))
    await session.execute(
        delete(ContactCard).where(
            ContactCard.status == "pending",
            or_(
                and_(ContactCard.sender_id == a, ContactCard.recipient_id == b),
                and_(ContactCard.sender_id == b, ContactCard.recipient_id == a),
            ),
        )
    )
    for owner, other in ((a, b), (b, a)):
        await session.execute(
            delete(Notification).where(
                Notification.user_id == owner, Notification.data["user_id"].as_string() == other
            )
        )


# --- room visits: who met whom ---------------------------------------------------------------


async def record_arrival(session: AsyncSession, room_id: str, user_id: str, now: dt.datetime) -> None:
    """A person entered a room: open a visit (a stay still open is kept, not doubled)."""
    open_visit = await session.scalar(
        select(RoomVisit.id).where(
            RoomVisit.room_id == room_id, RoomVisit.user_id == user_id, RoomVisit.left_at.is_(None)
        ).limit(1)
    )
    if open_visit is None:
        session.add(RoomVisit(room_id=room_id, user_id=user_id, joined_at=now))
        await session.flush()


async def record_departure(session: AsyncSession, room_id: str, user_id: str | None, now: dt.datetime) -> None:
    """A person left (or was removed from) a room; ``user_id`` None: the room ended for all."""
    stmt = update(RoomVisit).where(RoomVisit.room_id == room_id, RoomVisit.left_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(RoomVisit.user_id == user_id)
    await session.execute(stmt.values(left_at=now))


async def overlapping_visits(
    session: AsyncSession, user_id: str, since: dt.datetime, now: dt.datetime, room_id: str | None = None
) -> dict[tuple[str, str], dt.datetime]:
    """(room, other person) -> the last moment they and ``user_id`` were in that room together.

    Only stays that ended at or after ``since`` (or are still going) count. The self-join is per
    room on ``ix_room_visits_room_user``: reading costs the visits of the rooms one was in.
    """
    mine = aliased(RoomVisit, name="mine")
    other = aliased(RoomVisit, name="other")
    stmt = (
        select(other.room_id, other.user_id, mine.joined_at, mine.left_at, other.joined_at, other.left_at)
        .join(other, and_(other.room_id == mine.room_id, other.user_id != mine.user_id))
        .where(
            mine.user_id == user_id,
            or_(mine.left_at.is_(None), mine.left_at >= since),
            or_(other.left_at.is_(None), other.left_at >= since),
            # the two stays overlap
            or_(mine.left_at.is_(None), other.joined_at <= mine.left_at),
            or_(other.left_at.is_(None), mine.joined_at <= other.left_at),
        )
    )
    if room_id is not None:
        stmt = stmt.where(mine.room_id == room_id)
    met: dict[tuple[str, str], dt.datetime] = {}
    for rid, oid, _mj, ml, _oj, ol in (await session.execute(stmt)).all():
        together_until = min(ml or now, ol or now)
        key = (rid, oid)
        if key not in met or met[key] < together_until:
            met[key] = together_until
    return met


# --- contact cards ----------------------------------------------------------------------------


async def card_between(session: AsyncSession, sender_id: str, recipient_id: str, room_id: str) -> ContactCard | None:
    """The card one person offered another for a room, if any."""
    return await session.scalar(
        select(ContactCard).where(
            ContactCard.sender_id == sender_id, ContactCard.recipient_id == recipient_id, ContactCard.room_id == room_id
        )
    )


async def add_card(session: AsyncSession, sender_id: str, recipient_id: str, room_id: str, now: dt.datetime) -> ContactCard:
    """Store an offered card."""
    card = ContactCard(sender_id=sender_id, recipient_id=recipient_id, room_id=room_id, status="pending", created_at=now)
    session.add(card)
    await session.flush()
    return card


async def card_by_id(session: AsyncSession, card_id: str) -> ContactCard | None:
    """One card, row-locked for an answer."""
    return await session.scalar(
        select(ContactCard).where(ContactCard.id == card_id).with_for_update().execution_options(populate_existing=True)
    )


async def cards_sent_since(session: AsyncSession, user_id: str, since: dt.datetime) -> int:
    """How many cards a person offered since a time."""
    return int(
        await session.scalar(
            select(func.count()).select_from(ContactCard).where(
                ContactCard.sender_id == user_id, ContactCard.created_at >= since
            )
        )
        or 0
    )


async def cards_of(session: AsyncSession, user_id: str, since: dt.datetime) -> Sequence[ContactCard]:
    """Cards a person offered or was offered since a time, newest first."""
    return (
        await session.scalars(
            select(ContactCard)
            .where(
                or_(ContactCard.sender_id == user_id, ContactCard.recipient_id == user_id),
                ContactCard.created_at >= since,
            )
            .order_by(ContactCard.created_at.desc(), ContactCard.id)
        )
    ).all()


async def cards_between_in_rooms(session: AsyncSession, user_id: str) -> set[tuple[str, str, str]]:
    """(sender, recipient, room) of every card a person sent or received."""
    rows = await session.execute(
        select(ContactCard.sender_id, ContactCard.recipient_id, ContactCard.room_id).where(
            or_(ContactCard.sender_id == user_id, ContactCard.recipient_id == user_id)
        )
    )
    return {(s, r, room) for s, r, room in rows.all()}


# --- uploaded contacts and letting waitlisters in -------------------------------------------------


async def replace_contact_hashes(session: AsyncSession, user_id: str, digests: Sequence[str]) -> None:
    """Replace a person's uploaded contacts with these keyed digests."""
    await session.execute(delete(ContactHash).where(ContactHash.user_id == user_id))
    if digests:
        await session.execute(insert(ContactHash), [{"user_id": user_id, "digest": d} for d in digests])


async def count_contact_hashes(session: AsyncSession, user_id: str) -> int:
    """How many contacts a person uploaded."""
    return int(
        await session.scalar(select(func.count()).select_from(ContactHash).where(ContactHash.user_id == user_id)) or 0
    )


async def waitlisters_without_digest(session: AsyncSession, limit: int) -> Sequence[tuple[str, str]]:
    """(id, phone) of waitlisted accounts whose number has no keyed digest yet."""
    from mitalk.accounts.models import User

    rows = await session.execute(
        select(User.id, User.phone)
        .outerjoin(PhoneDigest, PhoneDigest.user_id == User.id)
        .where(User.status == "waitlisted", PhoneDigest.user_id.is_(None))
        .limit(limit)
    )
    return [(i, p) for i, p in rows.all()]


async def add_phone_digests(session: AsyncSession, digests: Sequence[tuple[str, str]], is_sqlite: bool) -> None:
    """Store keyed digests of accounts' numbers; one another request stored first is kept."""
    if not digests:
        return
    values = [{"user_id": u, "digest": d} for u, d in digests]
    if is_sqlite:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    await session.execute(dialect_insert(PhoneDigest).values(values).on_conflict_do_nothing())


async def waitlisters_matching(
    session: AsyncSession, member_id: str, connections: set[str], limit: int, only: str | None = None
) -> Sequence[tuple[str, bool]]:
    """Waiting accounts a member may let in, longest waiting first: (id, matched their contacts).

    A match is a number in the member's uploaded contacts (by keyed digest), or a number one of
    the member's connections invited (a pending invite). People blocked either way are left out.
    """
    from mitalk.access.models import Invite, WaitlistEntry
    from mitalk.accounts.models import User

    in_contacts = (
        exists()
        .where(PhoneDigest.user_id == User.id)
        .where(ContactHash.digest == PhoneDigest.digest, ContactHash.user_id == member_id)
    )
    invited_by_connection = (
        exists().where(Invite.phone == User.phone, Invite.status == "pending", Invite.inviter_id.in_(list(connections)))
        if connections
        else None
    )
    matched = or_(in_contacts, invited_by_connection) if invited_by_connection is not None else in_contacts
    stmt = (
        select(User.id, in_contacts)
        .join(WaitlistEntry, WaitlistEntry.user_id == User.id)
        .where(
            User.status == "waitlisted",
            WaitlistEntry.admitted_at.is_(None),
            matched,
            User.id.not_in(blocked_between_subquery(member_id)),
        )
        .order_by(WaitlistEntry.seq)
        .limit(limit)
    )
    if only is not None:
        stmt = stmt.where(User.id == only)
    rows = await session.execute(stmt)
    return [(uid, bool(by_contacts)) for uid, by_contacts in rows.all()]
