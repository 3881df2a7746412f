"""Every SQL query of the network: profiles, avatars, follows, connections, blocks, room
visits, contact cards and uploaded contacts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    column,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mitalk.access.models import Invite, WaitlistEntry
from mitalk.accounts.models import User
from mitalk.network.models import (
    Avatar,
    Block,
    Connection,
    ContactCard,
    ContactHash,
    ContactUpload,
    Follow,
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
        profile = Profile(user_id=user_id, skills=[], links=[], open_to=[], topics=[])
        session.add(profile)
        await session.flush()
    return profile


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


async def put_avatar(
    session: AsyncSession, user_id: str, content_hash: str, data: bytes, now: dt.datetime
) -> None:
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
    await session.execute(
        update(Profile).where(Profile.user_id == user_id).values(avatar_hash=None)
    )


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
        select(Block.blocker_id)
        .where(
            or_(
                and_(Block.blocker_id == a, Block.blocked_id == b),
                and_(Block.blocker_id == b, Block.blocked_id == a),
            )
        )
        .limit(1)
    )
    return found is not None


async def followee_ids(session: AsyncSession, user_id: str) -> set[str]:
    """The people ``user_id`` follows."""
    return set(
        (
            await session.scalars(select(Follow.followee_id).where(Follow.follower_id == user_id))
        ).all()
    )


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
    return int(
        await session.scalar(
            select(func.count()).select_from(Follow).where(Follow.follower_id == user_id)
        )
        or 0
    )


async def add_follow(
    session: AsyncSession, follower_id: str, followee_id: str, now: dt.datetime
) -> bool:
    """Follow someone; False if already following."""
    if await follows(session, follower_id, followee_id):
        return False
    session.add(Follow(follower_id=follower_id, followee_id=followee_id, created_at=now))
    await session.flush()
    return True


async def remove_follow(session: AsyncSession, follower_id: str, followee_id: str) -> bool:
    """Stop following someone (nothing happens if not following); True if a follow went."""
    result = await session.execute(
        delete(Follow).where(Follow.follower_id == follower_id, Follow.followee_id == followee_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def connection_between(
    session: AsyncSession, a: str, b: str, lock: bool = False
) -> Connection | None:
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
        requester_id=requester_id,
        addressee_id=addressee_id,
        pair_key=pair_key(requester_id, addressee_id),
        status=status,
        created_at=now,
        responded_at=now if status == "accepted" else None,
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
            .order_by(
                func.coalesce(Connection.responded_at, Connection.created_at).desc(), Connection.id
            )
        )
    ).all()


async def add_block(
    session: AsyncSession, blocker_id: str, blocked_id: str, now: dt.datetime
) -> bool:
    """Block someone; False if already blocked."""
    if await session.get(Block, (blocker_id, blocked_id)) is not None:
        return False
    session.add(Block(blocker_id=blocker_id, blocked_id=blocked_id, created_at=now))
    await session.flush()
    return True


async def remove_block(session: AsyncSession, blocker_id: str, blocked_id: str) -> None:
    """Lift a block (nothing happens if there was none)."""
    await session.execute(
        delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
    )


async def count_blocks(session: AsyncSession, user_id: str) -> int:
    """How many people a person blocked."""
    return int(
        await session.scalar(
            select(func.count()).select_from(Block).where(Block.blocker_id == user_id)
        )
        or 0
    )


async def blocked_by(session: AsyncSession, user_id: str) -> list[str]:
    """The people a person blocked, newest first."""
    return list(
        (
            await session.scalars(
                select(Block.blocked_id)
                .where(Block.blocker_id == user_id)
                .order_by(Block.created_at.desc())
            )
        ).all()
    )


async def sever(session: AsyncSession, a: str, b: str) -> None:
    """Remove follows both ways, the connection or request, and pending cards between two people."""
    await session.execute(
        delete(Follow).where(
            or_(
                and_(Follow.follower_id == a, Follow.followee_id == b),
                and_(Follow.follower_id == b, Follow.followee_id == a),
            )
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


# --- room visits: who met whom ---------------------------------------------------------------


async def record_arrival(
    session: AsyncSession, room_id: str, user_id: str, now: dt.datetime
) -> None:
    """A person entered a room: open a visit (a stay still open is kept, not doubled)."""
    open_visit = await session.scalar(
        select(RoomVisit.id).where(
            RoomVisit.room_id == room_id, RoomVisit.user_id == user_id, RoomVisit.left_at.is_(None)
        ).limit(1)
    )
    if open_visit is None:
        session.add(RoomVisit(room_id=room_id, user_id=user_id, joined_at=now))
        await session.flush()


async def record_departure(
    session: AsyncSession, room_id: str, user_id: str | None, now: dt.datetime
) -> None:
    """A person left (or was removed from) a room; ``user_id`` None: the room ended for all."""
    stmt = update(RoomVisit).where(RoomVisit.room_id == room_id, RoomVisit.left_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(RoomVisit.user_id == user_id)
    await session.execute(stmt.values(left_at=now))


async def overlapping_visits(
    session: AsyncSession,
    user_id: str,
    since: dt.datetime,
    now: dt.datetime,
    room_id: str | None = None,
) -> dict[tuple[str, str], dt.datetime]:
    """(room, other person) -> the last moment they and ``user_id`` were in that room together.

    Only stays that ended at or after ``since`` (or are still going) count. The self-join is per
    room on ``ix_room_visits_room_user``: reading costs the visits of the rooms one was in.
    """
    mine = aliased(RoomVisit, name="mine")
    other = aliased(RoomVisit, name="other")
    stmt = (
        select(
            other.room_id,
            other.user_id,
            mine.joined_at,
            mine.left_at,
            other.joined_at,
            other.left_at,
        )
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


async def card_between(
    session: AsyncSession, sender_id: str, recipient_id: str, room_id: str
) -> ContactCard | None:
    """The card one person offered another for a room, if any."""
    return await session.scalar(
        select(ContactCard).where(
            ContactCard.sender_id == sender_id,
            ContactCard.recipient_id == recipient_id,
            ContactCard.room_id == room_id,
        )
    )


async def add_card(
    session: AsyncSession, sender_id: str, recipient_id: str, room_id: str, now: dt.datetime
) -> ContactCard:
    """Store an offered card."""
    card = ContactCard(
        sender_id=sender_id,
        recipient_id=recipient_id,
        room_id=room_id,
        status="pending",
        created_at=now,
    )
    session.add(card)
    await session.flush()
    return card


async def card_by_id(session: AsyncSession, card_id: str) -> ContactCard | None:
    """One card, row-locked for an answer."""
    return await session.scalar(
        select(ContactCard)
        .where(ContactCard.id == card_id)
        .with_for_update()
        .execution_options(populate_existing=True)
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


async def cards_of(
    session: AsyncSession, user_id: str, since: dt.datetime
) -> Sequence[ContactCard]:
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


async def replace_contact_hashes(
    session: AsyncSession, user_id: str, digests: Sequence[str]
) -> None:
    """Replace a person's uploaded contacts with these keyed digests."""
    await session.execute(delete(ContactHash).where(ContactHash.user_id == user_id))
    if digests:
        await session.execute(
            insert(ContactHash), [{"user_id": user_id, "digest": d} for d in digests]
        )


async def count_contact_hashes(session: AsyncSession, user_id: str) -> int:
    """How many contacts a person uploaded."""
    return int(
        await session.scalar(
            select(func.count()).select_from(ContactHash).where(ContactHash.user_id == user_id)
        )
        or 0
    )


async def hold_account(session: AsyncSession, user_id: str) -> None:
    """Serialize this account's writes from here to the commit (a row lock on PostgreSQL, the
    write lock on SQLite): limits read after it see every earlier upload of the account."""
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(id=User.id)
        .execution_options(synchronize_session=False)
    )


async def members_in_contacts(
    session: AsyncSession, member_id: str, limit: int
) -> Sequence[str]:
    """Active members whose number is in a member's uploaded contacts (only those who asked to
    be found by it: they have a ``PhoneDigest``; never the member, never someone blocked either
    way), newest members first."""
    rows = await session.scalars(
        select(User.id)
        .join(PhoneDigest, PhoneDigest.user_id == User.id)
        .join(ContactHash, ContactHash.digest == PhoneDigest.digest)
        .where(
            ContactHash.user_id == member_id,
            User.status == "active",
            User.suspended_at.is_(None),
            User.id != member_id,
            User.id.not_in(blocked_between_subquery(member_id)),
        )
        .order_by(User.activated_at.desc().nulls_last(), User.id)
        .limit(limit)
    )
    return list(rows.all())


async def contact_digests_of(session: AsyncSession, user_id: str) -> set[str]:
    """The keyed digests of a person's uploaded contacts."""
    return set(
        await session.scalars(select(ContactHash.digest).where(ContactHash.user_id == user_id))
    )


async def contact_uploads_since(
    session: AsyncSession, user_id: str, since: dt.datetime
) -> Sequence[tuple[dt.datetime, int]]:
    """(when, how many new numbers) of a person's uploads after ``since``, oldest first."""
    rows = await session.execute(
        select(ContactUpload.uploaded_at, ContactUpload.added)
        .where(ContactUpload.user_id == user_id, ContactUpload.uploaded_at > since)
        .order_by(ContactUpload.uploaded_at, ContactUpload.id)
    )
    return [(at, added) for at, added in rows.all()]


async def record_contact_upload(
    session: AsyncSession, user_id: str, now: dt.datetime, added: int
) -> None:
    """Count an accepted upload; rows older than any window that reads them are dropped."""
    await session.execute(
        delete(ContactUpload).where(
            ContactUpload.user_id == user_id,
            ContactUpload.uploaded_at < now - dt.timedelta(days=31),
        )
    )
    session.add(ContactUpload(user_id=user_id, uploaded_at=now, added=added))
    await session.flush()


async def phone_digest_of(session: AsyncSession, user_id: str) -> str | None:
    """The keyed digest of an account's own number, kept only while it wants to be found."""
    found: str | None = await session.scalar(
        select(PhoneDigest.digest).where(PhoneDigest.user_id == user_id)
    )
    return found


async def set_phone_digest(
    session: AsyncSession, user_id: str, digest: str | None, is_sqlite: bool
) -> None:
    """Keep (``digest``) or forget (None) the keyed digest of an account's own number."""
    await session.execute(delete(PhoneDigest).where(PhoneDigest.user_id == user_id))
    if digest is not None:
        dialect_insert = sqlite.insert if is_sqlite else postgresql.insert
        await session.execute(
            dialect_insert(PhoneDigest)
            .values(user_id=user_id, digest=digest)
            .on_conflict_do_nothing()
        )


async def waitlisters_matching(
    session: AsyncSession,
    member_id: str,
    connections: set[str],
    limit: int,
    only: str | None = None,
) -> Sequence[tuple[str, bool]]:
    """Waiting accounts a member may let in, longest waiting first: (id, matched their contacts).

    Only accounts that asked to be found (they have a ``PhoneDigest``). A match is then their
    number in the member's uploaded contacts (by keyed digest), or their number invited by one
    of the member's connections (a pending invite). People blocked either way are left out.
    """
    findable = exists().where(PhoneDigest.user_id == User.id)
    in_contacts = (
        exists()
        .where(PhoneDigest.user_id == User.id)
        .where(ContactHash.digest == PhoneDigest.digest, ContactHash.user_id == member_id)
    )
    invited_by_connection = (
        exists().where(
            Invite.phone == User.phone,
            Invite.status == "pending",
            Invite.inviter_id.in_(list(connections)),
        )
        if connections
        else None
    )
    matched = (
        or_(in_contacts, invited_by_connection)
        if invited_by_connection is not None
        else in_contacts
    )
    stmt = (
        select(User.id, in_contacts)
        .join(WaitlistEntry, WaitlistEntry.user_id == User.id)
        .where(
            User.status == "waitlisted",
            WaitlistEntry.admitted_at.is_(None),
            findable,
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


# The rooms table as far as the network reads it (titles for cards and people you met): rooms
# is a higher context, so its model is not imported here.
_ROOMS = table("rooms", column("id"), column("title"))


async def room_titles(session: AsyncSession, room_ids: Sequence[str]) -> dict[str, str]:
    """The titles of these rooms, by id."""
    if not room_ids:
        return {}
    rows = await session.execute(
        select(_ROOMS.c.id, _ROOMS.c.title).where(_ROOMS.c.id.in_(sorted(set(room_ids))))
    )
    return {str(i): str(t) for i, t in rows.all()}


async def card_for_reading(session: AsyncSession, card_id: str) -> ContactCard | None:
    """One card, without a lock."""
    return await session.get(ContactCard, card_id)


def _active_unblocked(viewer_id: str, column: Any) -> list[Any]:
    """Filters: an active member, not blocked either way with the viewer."""
    return [
        exists().where(User.id == column, User.status == "active"),
        column.not_in(blocked_between_subquery(viewer_id)),
    ]


async def follow_counts(session: AsyncSession, user_id: str) -> tuple[int, int]:
    """(followers, following) of a person: active members only."""
    followers = await session.scalar(
        select(func.count()).select_from(Follow).where(
            Follow.followee_id == user_id,
            exists().where(User.id == Follow.follower_id, User.status == "active"),
        )
    )
    following = await session.scalar(
        select(func.count()).select_from(Follow).where(
            Follow.follower_id == user_id,
            exists().where(User.id == Follow.followee_id, User.status == "active"),
        )
    )
    return int(followers or 0), int(following or 0)


async def follow_list(
    session: AsyncSession, viewer_id: str, user_id: str, followers: bool, limit: int, offset: int
) -> Sequence[str]:
    """The people who follow ``user_id`` (or whom they follow), newest first, as the viewer
    may see them (active, never blocked either way with the viewer)."""
    other = Follow.follower_id if followers else Follow.followee_id
    mine = Follow.followee_id if followers else Follow.follower_id
    rows = await session.scalars(
        select(other)
        .where(mine == user_id, *_active_unblocked(viewer_id, other))
        .order_by(Follow.created_at.desc(), other)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all())
