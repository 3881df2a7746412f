"""The rules of the network: profiles, avatars, follows, connections, blocks, contact cards
after rooms, and letting waitlisted contacts in."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.models import User
from mitalk.core.errors import Conflict, Forbidden, NotFound
from mitalk.core.settings import Settings
from mitalk.realtime.bus import EventBus
from mitalk.network import repository as repo
from mitalk.network.models import Connection, ContactCard, Profile
import datetime as dt

from mitalk.network.schemas import (
    NotificationListOut,
    NotificationOut,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
)
from mitalk.network.schemas import (
    CardListOut,
    CardOut,
    ConnectionListOut,
    ConnectionOut,
    ConnectionState,
    MetListOut,
    MetPersonOut,
    PersonOut,
    WaitingContactOut,
    WaitingContactsOut,
)


async def profile_of(session: AsyncSession, user: User) -> ProfileOut:
    """A person's profile (empty fields if they wrote none)."""
    profile = await repo.profile_of(session, user.id)
    return ProfileOut.model_validate(profile) if profile else ProfileOut()


async def update_profile(session: AsyncSession, user: User, changes: ProfileUpdate) -> ProfileOut:
    """Apply the fields given; duplicates in tag lists are dropped, order kept."""
    profile = await repo.ensure_profile(session, user.id)
    data = changes.model_dump(exclude_unset=True, mode="json")
    for field in ("skills", "links", "open_to"):
        if data.get(field) is not None:
            data[field] = list(dict.fromkeys(data[field]))
    for field, value in data.items():
        if value is not None:
            setattr(profile, field, value)
    await session.flush()
    return ProfileOut.model_validate(profile)


async def notifications_of(session: AsyncSession, user: User, limit: int = 50) -> NotificationListOut:
    """A person's newest notices, newest first, with the unread count."""
    notices = await repo.notices_of(session, user.id, limit)
    return NotificationListOut(
        unread=await repo.unread_count(session, user.id),
        notifications=[
            NotificationOut(
                id=n.id, kind=n.kind, body=n.body, data=n.data, created_at=n.created_at,
                read=n.read_at is not None,
            )
            for n in notices
        ],
    )


async def mark_read(session: AsyncSession, user: User, up_to: int, now: dt.datetime) -> None:
    """Mark a person's notices up to ``up_to`` read."""
    await repo.mark_read(session, user.id, up_to, now)


# --- people, follows, connections, blocks ---------------------------------------------------

CONNECTION_REQUESTS_PER_DAY = 50
MAX_FOLLOWING = 5000
MAX_BLOCKS = 10_000
CARDS_PER_DAY = 100
MET_LISTED_FOR = dt.timedelta(days=7)
CARDS_LISTED_FOR = dt.timedelta(days=30)
WAITING_LIST_SIZE = 100
DIGEST_BATCH = 5000


class PersonNotFound(NotFound):
    code, message = "user_not_found", "There is no such member."


class CannotTargetSelf(Conflict):
    code, message = "cannot_target_self", "You cannot do this to yourself."


class TooManyRequests(Conflict):
    code = "too_many_connection_requests"
    message = f"You sent {CONNECTION_REQUESTS_PER_DAY} connection requests in the last 24 hours: try again later."


class FollowingTooMany(Conflict):
    code, message = "following_too_many", f"You follow {MAX_FOLLOWING} people, the most one may."


class BlockingTooMany(Conflict):
    code, message = "blocking_too_many", f"You blocked {MAX_BLOCKS} people, the most one may."


class AlreadyConnected(Conflict):
    code, message = "already_connected", "You are connected already."


class AlreadyRequested(Conflict):
    code, message = "already_requested", "You asked already: wait for their answer, or withdraw the request."


class ConnectionNotFound(NotFound):
    code, message = "connection_not_found", "No such connection or request of yours."


class NotPending(Conflict):
    code, message = "not_pending", "This request was answered already."


class CardNotFound(NotFound):
    code, message = "card_not_found", "No such card offered to you."


class NotMet(Forbidden):
    code = "not_met"
    message = "You can offer your card only to someone you were in that room with, within 7 days."


class AlreadyOffered(Conflict):
    code, message = "card_already_offered", "You offered your card to this person for this room already."


class TooManyCards(Conflict):
    code, message = "too_many_cards", f"You offered {CARDS_PER_DAY} cards in the last 24 hours: try again later."


def person_out(user_id: str, profile: Profile | None) -> PersonOut:
    """Someone's public face from their profile row (empty when they wrote none)."""
    return PersonOut(id=user_id, profile=ProfileOut.model_validate(profile) if profile else ProfileOut())


async def people_out(session: AsyncSession, user_ids: list[str]) -> list[PersonOut]:
    """Public faces of several people, in the order given."""
    profiles = await repo.profiles_of(session, user_ids)
    return [person_out(uid, profiles.get(uid)) for uid in user_ids]


async def _visible_member(session: AsyncSession, viewer: User, user_id: str) -> User:
    """Another active member the viewer may see: blocked pairs are 404 to each other."""
    user = await accounts_repo.user_by_id(session, user_id)
    if user is None or user.status != "active":
        raise PersonNotFound()
    if user.id != viewer.id and await repo.is_blocked_between(session, viewer.id, user.id):
        raise PersonNotFound()
    return user


def _state(row: Connection | None, viewer_id: str) -> ConnectionState:
    if row is None:
        return "none"
    if row.status == "accepted":
        return "connected"
    return "pending_outgoing" if row.requester_id == viewer_id else "pending_incoming"


async def public_user(session: AsyncSession, viewer: User, user_id: str) -> PublicUser:
    """Another member's public face and where the viewer stands with them (never a phone number)."""
    user = await _visible_member(session, viewer, user_id)
    row = await repo.connection_between(session, viewer.id, user.id)
    return PublicUser(
        id=user.id,
        profile=await profile_of(session, user),
        following=await repo.follows(session, viewer.id, user.id),
        followed_by=await repo.follows(session, user.id, viewer.id),
        connection=_state(row, viewer.id),
        connection_id=row.id if row else None,
        blocked=False,
    )


async def _notify(
    session: AsyncSession, bus: EventBus, user_id: str, kind: str, key: str, body: str, now: dt.datetime,
    data: dict[str, str],
) -> None:
    """An in-app notice for one person, once per ``key``, delivered live after commit."""
    from mitalk.notifications.service import notify

    await notify(session, bus, user_id, kind, body, key, now=now, data=data)


async def _display_name(session: AsyncSession, user_id: str) -> str:
    profile = await repo.profile_of(session, user_id)
    return (profile.name if profile and profile.name else "Someone")


async def follow(session: AsyncSession, user: User, user_id: str, now: dt.datetime) -> None:
    """Follow another member (following twice changes nothing)."""
    if user_id == user.id:
        raise CannotTargetSelf("You cannot follow yourself.")
    target = await _visible_member(session, user, user_id)
    if await repo.follows(session, user.id, target.id):
        return
    if await repo.count_followees(session, user.id) >= MAX_FOLLOWING:
        raise FollowingTooMany()
    try:
        async with session.begin_nested():
            await repo.add_follow(session, user.id, target.id, now)
    except IntegrityError:
        pass  # the same follow, made by a request at the same moment: twice is once


async def unfollow(session: AsyncSession, user: User, user_id: str) -> None:
    """Stop following someone (also when you did not follow them)."""
    await repo.remove_follow(session, user.id, user_id)


def _connection_out(row: Connection, viewer_id: str, other: PersonOut) -> ConnectionOut:
    return ConnectionOut(
        id=row.id,
        status="accepted" if row.status == "accepted" else "pending",
        direction="outgoing" if row.requester_id == viewer_id else "incoming",
        person=other,
        created_at=row.created_at,
        responded_at=row.responded_at,
    )


async def _accept(
    session: AsyncSession, bus: EventBus, row: Connection, accepter: User, now: dt.datetime
) -> None:
    row.status, row.responded_at = "accepted", now
    await session.flush()
    name = await _display_name(session, accepter.id)
    await _notify(
        session, bus, row.requester_id, "connection_accepted", f"connacc:{row.id}",
        f"{name} accepted your connection request.", now, {"user_id": accepter.id},
    )


async def request_connection(
    session: AsyncSession, bus: EventBus, user: User, user_id: str, now: dt.datetime
) -> tuple[ConnectionOut, bool]:
    """Ask to connect; returns the connection and whether a new request was made.

    If the other person asked you already, asking back accepts their request (no 409).
    """
    if user_id == user.id:
        raise CannotTargetSelf("You cannot connect with yourself.")
    target = await _visible_member(session, user, user_id)
    other = person_out(target.id, await repo.profile_of(session, target.id))
    row = await repo.connection_between(session, user.id, target.id, lock=True)
    if row is None:
        if await repo.requests_sent_since(session, user.id, now - dt.timedelta(days=1)) >= CONNECTION_REQUESTS_PER_DAY:
            raise TooManyRequests()
        try:
            async with session.begin_nested():
                row = await repo.add_connection(session, user.id, target.id, "pending", now)
        except IntegrityError:
            # Their request (or a card) made the pair's one row at the same moment: answer as
            # if it had come first, which the row, read again now that it is committed, says.
            row = await repo.connection_between(session, user.id, target.id, lock=True)
            if row is None:
                raise
        else:
            name = await _display_name(session, user.id)
            await _notify(
                session, bus, target.id, "connection_request", f"connreq:{row.id}", f"{name} wants to connect with you.",
                now, {"user_id": user.id},
            )
            return _connection_out(row, user.id, other), True
    if row.status == "accepted":
        raise AlreadyConnected()
    if row.requester_id == user.id:
        raise AlreadyRequested()
    await _accept(session, bus, row, user, now)
    return _connection_out(row, user.id, other), False


async def connections_of(session: AsyncSession, user: User) -> ConnectionListOut:
    """Your connections and pending requests, with the other person's public face."""
    rows = list(await repo.connections_of(session, user.id))
    others = [r.addressee_id if r.requester_id == user.id else r.requester_id for r in rows]
    profiles = await repo.profiles_of(session, others)
    out = [_connection_out(r, user.id, person_out(o, profiles.get(o))) for r, o in zip(rows, others, strict=True)]
    return ConnectionListOut(
        connections=[c for c in out if c.status == "accepted"],
        incoming=[c for c in out if c.status == "pending" and c.direction == "incoming"],
        outgoing=[c for c in out if c.status == "pending" and c.direction == "outgoing"],
    )


async def answer_connection(
    session: AsyncSession, bus: EventBus, user: User, connection_id: str, accept: bool, now: dt.datetime
) -> ConnectionOut | None:
    """Accept or decline a request made to you; declining forgets it (they may ask again)."""
    row = await repo.connection_by_id(session, connection_id)
    if row is None or row.addressee_id != user.id:
        raise ConnectionNotFound()
    if row.status != "pending":
        raise NotPending()
    if not accept:
        await repo.delete_connection(session, row.id)
        return None
    await _accept(session, bus, row, user, now)
    other = person_out(row.requester_id, await repo.profile_of(session, row.requester_id))
    return _connection_out(row, user.id, other)


async def remove_connection(session: AsyncSession, user: User, connection_id: str) -> None:
    """Withdraw a request you sent, or remove an accepted connection (either side may)."""
    row = await repo.connection_by_id(session, connection_id)
    if row is None or user.id not in (row.requester_id, row.addressee_id):
        raise ConnectionNotFound()
    if row.status == "pending" and row.requester_id != user.id:
        raise ConnectionNotFound("You can decline this request, not withdraw it: it is theirs.")
    await repo.delete_connection(session, row.id)


async def block(session: AsyncSession, bus: EventBus, user: User, user_id: str, now: dt.datetime) -> None:
    """Block someone: follows both ways, any connection or request, pending cards, notices
    about each other, and shared rooms go (``rooms.service.part_after_block``)."""
    from mitalk.rooms import service as rooms

    if user_id == user.id:
        raise CannotTargetSelf("You cannot block yourself.")
    target = await accounts_repo.user_by_id(session, user_id)
    if target is None:
        raise PersonNotFound()
    if await repo.count_blocks(session, user.id) >= MAX_BLOCKS:
        raise BlockingTooMany()
    try:
        async with session.begin_nested():
            await repo.add_block(session, user.id, target.id, now)
    except IntegrityError:
        pass  # the same block, made by a request at the same moment; severing again is harmless
    await repo.sever(session, user.id, target.id)
    await rooms.part_after_block(session, bus, user, target.id, now)


async def unblock(session: AsyncSession, user: User, user_id: str) -> None:
    """Lift your block (follows and connections it removed do not come back)."""
    await repo.remove_block(session, user.id, user_id)


async def blocked_people(session: AsyncSession, user: User) -> list[PersonOut]:
    """The people you blocked, newest first."""
    return await people_out(session, await repo.blocked_by(session, user.id))


# --- people you met, contact cards ------------------------------------------------------------


async def people_met(
    session: AsyncSession, user: User, now: dt.datetime, room_id: str | None = None
) -> MetListOut:
    """People you were in a room with during the last 7 days (one room, or all), newest first."""
    met = await repo.overlapping_visits(session, user.id, now - MET_LISTED_FOR, now, room_id)
    blocked = await repo.blocked_between_ids(session, user.id)
    met = {k: v for k, v in met.items() if k[1] not in blocked}
    ids = sorted({oid for _, oid in met})
    profiles = await repo.profiles_of(session, ids)
    connected = await repo.connection_ids(session, user.id)
    rows = {r.addressee_id if r.requester_id == user.id else r.requester_id: r
            for r in await repo.connections_of(session, user.id)}
    cards = await repo.cards_between_in_rooms(session, user.id)
    people = [
        MetPersonOut(
            person=person_out(oid, profiles.get(oid)),
            room_id=rid,
            met_at=at,
            listed_until=at + MET_LISTED_FOR,
            connection="connected" if oid in connected else _state(rows.get(oid), user.id),
            card_sent=(user.id, oid, rid) in cards,
            card_received=(oid, user.id, rid) in cards,
        )
        for (rid, oid), at in met.items()
    ]
    people.sort(key=lambda p: (p.met_at, p.person.id), reverse=True)
    return MetListOut(people=people)


def _card_out(card: ContactCard, viewer_id: str, other: PersonOut) -> CardOut:
    status = card.status if card.status in ("pending", "accepted", "declined") else "pending"
    return CardOut(
        id=card.id, room_id=card.room_id, status=status,
        direction="outgoing" if card.sender_id == viewer_id else "incoming",
        person=other, created_at=card.created_at, responded_at=card.responded_at,
    )


async def offer_card(
    session: AsyncSession, bus: EventBus, user: User, user_id: str, room_id: str, now: dt.datetime
) -> CardOut:
    """Offer your card to someone you were in a room with, within 7 days of being together."""
    if user_id == user.id:
        raise CannotTargetSelf("You cannot offer your card to yourself.")
    target = await _visible_member(session, user, user_id)
    met = await repo.overlapping_visits(session, user.id, now - MET_LISTED_FOR, now, room_id)
    if (room_id, target.id) not in met:
        raise NotMet()
    if await repo.card_between(session, user.id, target.id, room_id) is not None:
        raise AlreadyOffered()
    if await repo.cards_sent_since(session, user.id, now - dt.timedelta(days=1)) >= CARDS_PER_DAY:
        raise TooManyCards()
    try:
        async with session.begin_nested():
            card = await repo.add_card(session, user.id, target.id, room_id, now)
    except IntegrityError as exc:
        raise AlreadyOffered() from exc
    name = await _display_name(session, user.id)
    await _notify(
        session, bus, target.id, "card_offered", f"card:{card.id}", f"{name} offered you their card.", now,
        {"user_id": user.id, "room_id": room_id},
    )
    return _card_out(card, user.id, person_out(target.id, await repo.profile_of(session, target.id)))


async def cards_of(session: AsyncSession, user: User, now: dt.datetime) -> CardListOut:
    """Cards offered to you still waiting for an answer, and the cards you offered (30 days)."""
    cards = list(await repo.cards_of(session, user.id, now - CARDS_LISTED_FOR))
    blocked = await repo.blocked_between_ids(session, user.id)
    others = [c.recipient_id if c.sender_id == user.id else c.sender_id for c in cards]
    profiles = await repo.profiles_of(session, others)
    out = [
        _card_out(c, user.id, person_out(o, profiles.get(o)))
        for c, o in zip(cards, others, strict=True)
        if o not in blocked
    ]
    return CardListOut(
        received=[c for c in out if c.direction == "incoming" and c.status == "pending"],
        sent=[c for c in out if c.direction == "outgoing"],
    )


async def answer_card(
    session: AsyncSession, bus: EventBus, user: User, card_id: str, accept: bool, now: dt.datetime
) -> ConnectionOut | None:
    """Accept a card (you two become connections) or decline it."""
    card = await repo.card_by_id(session, card_id)
    if card is None or card.recipient_id != user.id:
        raise CardNotFound()
    if card.status != "pending":
        raise NotPending("This card was answered already.")
    if await repo.is_blocked_between(session, user.id, card.sender_id):
        raise CardNotFound()
    card.responded_at = now
    if not accept:
        card.status = "declined"
        await session.flush()
        return None
    card.status = "accepted"
    row = await repo.connection_between(session, user.id, card.sender_id, lock=True)
    if row is None:
        try:
            async with session.begin_nested():
                row = await repo.add_connection(session, card.sender_id, user.id, "accepted", now)
        except IntegrityError:  # a request between them was made at the same moment: accept it
            row = await repo.connection_between(session, user.id, card.sender_id, lock=True)
            if row is None:
                raise
    if row.status != "accepted":
        row.status, row.responded_at = "accepted", now
    await session.flush()
    name = await _display_name(session, user.id)
    await _notify(
        session, bus, card.sender_id, "card_accepted", f"cardacc:{card.id}",
        f"{name} accepted your card: you are connected now.", now, {"user_id": user.id, "room_id": card.room_id},
    )
    return _connection_out(row, user.id, person_out(card.sender_id, await repo.profile_of(session, card.sender_id)))


# --- contacts: letting waitlisted people in ---------------------------------------------------


def contact_digest(key: bytes, sha256_hex: str) -> str:
    """What is stored of one uploaded contact: HMAC(secret key, SHA-256 hex of the E.164 number).

    The client sends SHA-256 so the number never travels in clear; the server keys it again so
    a leaked table cannot be reversed by hashing every possible number.
    """
    return hmac.new(key, sha256_hex.lower().encode(), hashlib.sha256).hexdigest()


def phone_digest(key: bytes, phone: str) -> str:
    """The stored form of an account's own number, comparable with uploaded contacts."""
    return contact_digest(key, hashlib.sha256(phone.encode()).hexdigest())


async def store_contacts(session: AsyncSession, key: bytes, user: User, hashes: list[str]) -> int:
    """Replace your uploaded contacts; returns how many distinct ones are stored."""
    digests = sorted({contact_digest(key, h) for h in hashes})
    await repo.replace_contact_hashes(session, user.id, digests)
    return len(digests)


async def _fill_phone_digests(session: AsyncSession, key: bytes, is_sqlite: bool) -> None:
    """Digest the numbers of waitlisted accounts that have none yet (each account only once)."""
    while missing := await repo.waitlisters_without_digest(session, DIGEST_BATCH):
        await repo.add_phone_digests(session, [(uid, phone_digest(key, phone)) for uid, phone in missing], is_sqlite)
        if len(missing) < DIGEST_BATCH:
            break


async def waiting_contacts(session: AsyncSession, key: bytes, is_sqlite: bool, user: User) -> WaitingContactsOut:
    """Waitlisters you may let in: in your uploaded contacts, or invited by your connections."""
    await _fill_phone_digests(session, key, is_sqlite)
    connections = await repo.connection_ids(session, user.id)
    matches = await repo.waitlisters_matching(session, user.id, connections, WAITING_LIST_SIZE)
    faces = await people_out(session, [uid for uid, _ in matches])
    return WaitingContactsOut(
        people=[
            WaitingContactOut(person=face, via="contacts" if by_contacts else "connection_invite")
            for face, (_, by_contacts) in zip(faces, matches, strict=True)
        ],
        invites_left=user.invites_left,
    )


async def may_let_in(session: AsyncSession, key: bytes, is_sqlite: bool, user: User, user_id: str) -> bool:
    """Whether a waitlister is one you may let in."""
    await _fill_phone_digests(session, key, is_sqlite)
    connections = await repo.connection_ids(session, user.id)
    return any(
        uid == user_id
        for uid, _ in await repo.waitlisters_matching(session, user.id, connections, limit=1, only=user_id)
    )


class NotYourContact(NotFound):
    code = "not_your_contact"
    message = "No such waitlisted person among your contacts or your connections' invites."


async def let_in(session: AsyncSession, settings: Settings, member: User, user_id: str, now: dt.datetime) -> None:
    """Let a matching waitlister in through the access service's admission (spends an invite)."""
    from mitalk.access import service as access

    key = settings.resolved_secret_key
    if not await may_let_in(session, key, settings.is_sqlite, member, user_id):
        raise NotYourContact()
    user = await accounts_repo.user_by_id(session, user_id)
    if user is None:
        raise NotYourContact()
    await access.let_in_by_member(session, settings, member, user, now)


# --- avatars ---------------------------------------------------------------------------------


async def set_avatar(session: AsyncSession, user: User, encoded: bytes, content_hash: str, now: dt.datetime) -> ProfileOut:
    """Store an already re-encoded avatar; returns the profile with its new ``avatar_url``."""
    await repo.put_avatar(session, user.id, content_hash, encoded, now)
    return await profile_of(session, user)


async def remove_avatar(session: AsyncSession, user: User) -> None:
    """Remove a person's avatar."""
    await repo.delete_avatar(session, user.id)


class AvatarNotFound(NotFound):
    code, message = "avatar_not_found", "There is no such avatar (it may have been replaced)."


async def avatar_bytes(session: AsyncSession, user_id: str, content_hash: str) -> bytes:
    """The image behind an avatar URL; an old hash is 404 so a replaced image is never served."""
    avatar = await repo.avatar_of(session, user_id)
    if avatar is None or avatar.content_hash != content_hash:
        raise AvatarNotFound()
    return avatar.data
