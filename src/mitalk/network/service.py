"""The rules of the network: profiles, avatars, follows, connections, blocks, contact cards
after rooms, and letting waitlisted contacts in."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.accounts import repository as accounts_repo
from mitalk.accounts.models import User
from mitalk.core.errors import RateLimited
from mitalk.core.messages import Message
from mitalk.core.settings import Settings
from mitalk.network import repository as repo
from mitalk.network.errors import (
    AlreadyConnected,
    AlreadyOffered,
    AlreadyRequested,
    AvatarNotFound,
    BlockingTooMany,
    CannotTargetSelf,
    CardNotFound,
    ConnectionNotFound,
    FollowingTooMany,
    NameRequired,
    NotMet,
    NotPending,
    NotYourContact,
    PersonNotFound,
    TooManyCards,
    TooManyRequests,
)
from mitalk.network.events import FollowersChanged, UserBlocked
from mitalk.network.models import Connection, ContactCard, Profile
from mitalk.network.schemas import (
    CARDS_PER_DAY,
    CONNECTION_REQUESTS_PER_DAY,
    MAX_BLOCKS,
    MAX_FOLLOWING,
    CardContact,
    CardDetailOut,
    CardListOut,
    CardOut,
    CardSharing,
    ConnectionListOut,
    ConnectionOut,
    ConnectionState,
    MetListOut,
    MetPersonOut,
    MetRoom,
    PeoplePage,
    PersonOut,
    ProfileOut,
    ProfileUpdate,
    PublicUser,
    WaitingContactOut,
    WaitingContactsOut,
)
from mitalk.notifications import service as notifications
from mitalk.realtime.bus import EventBus, publish_after_commit
from mitalk.realtime.events import user_channel


async def profile_of(session: AsyncSession, user: User) -> ProfileOut:
    """A person's profile (empty fields if they wrote none)."""
    profile = await repo.profile_of(session, user.id)
    return ProfileOut.model_validate(profile) if profile else ProfileOut()


async def require_name(session: AsyncSession, user_id: str) -> None:
    """Raise ``name_required`` unless the person has a name on their profile.

    Asking to speak, speaking and offering a card are seen by others, who must be able to tell
    who it is ("Someone" raised a hand tells a moderator nothing).
    """
    profile = await repo.profile_of(session, user_id)
    if profile is None or not (profile.name or "").strip():
        raise NameRequired()


def _unique(values: list[str], *, fold: bool) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        seen.setdefault(value.casefold() if fold else value, value)
    return list(seen.values())


async def update_profile(session: AsyncSession, user: User, changes: ProfileUpdate) -> ProfileOut:
    """Apply the fields given; duplicates in tag lists are dropped, order kept (skills compared
    without case: the first way of writing one wins)."""
    profile = await repo.ensure_profile(session, user.id)
    data = changes.model_dump(exclude_unset=True, mode="json")
    for field in ("skills", "links", "open_to", "topics"):
        if data.get(field) is not None:
            data[field] = _unique(data[field], fold=field in ("skills", "topics"))
    for field, value in data.items():
        if value is not None:
            setattr(profile, field, value)
    await session.flush()
    return ProfileOut.model_validate(profile)


# --- people, follows, connections, blocks ---------------------------------------------------

MET_LISTED_FOR = dt.timedelta(days=7)
CARDS_LISTED_FOR = dt.timedelta(days=30)
WAITING_LIST_SIZE = 100


def person_out(user_id: str, profile: Profile | None) -> PersonOut:
    """Someone's public face from their profile row (empty when they wrote none)."""
    return PersonOut(
        id=user_id, profile=ProfileOut.model_validate(profile) if profile else ProfileOut()
    )


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
    followers, following = await repo.follow_counts(session, user.id)
    return PublicUser(
        followers_count=followers,
        following_count=following,
        id=user.id,
        profile=await profile_of(session, user),
        following=await repo.follows(session, viewer.id, user.id),
        followed_by=await repo.follows(session, user.id, viewer.id),
        connection=_state(row, viewer.id),
        connection_id=row.id if row else None,
        blocked=False,
    )


async def follow_list(
    session: AsyncSession, viewer: User, user_id: str, followers: bool, limit: int, offset: int
) -> PeoplePage:
    """Who follows a member, or whom they follow, a page at a time (newest first)."""
    user = await _visible_member(session, viewer, user_id)
    ids = await repo.follow_list(session, viewer.id, user.id, followers, limit + 1, offset)
    return PeoplePage(
        people=await people_out(session, list(ids[:limit])),
        next_offset=offset + limit if len(ids) > limit else None,
    )


async def _notify(
    session: AsyncSession,
    bus: EventBus,
    user_id: str,
    kind: str,
    key: str,
    body: Message,
    now: dt.datetime,
    data: dict[str, str],
) -> None:
    """An in-app notice for one person, once per ``key``, delivered live after commit."""
    await notifications.notify(session, bus, user_id, kind, body, key, now=now, data=data)


async def _display_name(session: AsyncSession, user_id: str) -> str:
    profile = await repo.profile_of(session, user_id)
    return (profile.name if profile and profile.name else "Someone")


async def follow(
    session: AsyncSession, bus: EventBus, user: User, user_id: str, now: dt.datetime
) -> None:
    """Follow another member (following twice changes nothing). Once this commits, the followed
    person's open screens are told (``network.followers_changed`` on their channel)."""
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
        return  # the same follow, made by a request at the same moment: twice is once
    _followers_changed(session, bus, user.id, target.id, now)


async def unfollow(
    session: AsyncSession, bus: EventBus, user: User, user_id: str, now: dt.datetime
) -> None:
    """Stop following someone (also when you did not follow them; then nobody is told)."""
    if await repo.remove_follow(session, user.id, user_id):
        _followers_changed(session, bus, user.id, user_id, now)


def _followers_changed(
    session: AsyncSession, bus: EventBus, follower_id: str, followee_id: str, now: dt.datetime
) -> None:
    event = FollowersChanged(channel=user_channel(followee_id), at=now, follower_id=follower_id)
    publish_after_commit(session, bus, event)


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
        Message("notice.connection_accepted", {"name": name}), now, {"user_id": accepter.id},
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
        if (
            await repo.requests_sent_since(session, user.id, now - dt.timedelta(days=1))
            >= CONNECTION_REQUESTS_PER_DAY
        ):
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
                session,
                bus,
                target.id,
                "connection_request",
                f"connreq:{row.id}",
                Message("notice.connection_request", {"name": name}),
                now,
                {"user_id": user.id},
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
    out = [
        _connection_out(r, user.id, person_out(o, profiles.get(o)))
        for r, o in zip(rows, others, strict=True)
    ]
    return ConnectionListOut(
        connections=[c for c in out if c.status == "accepted"],
        incoming=[c for c in out if c.status == "pending" and c.direction == "incoming"],
        outgoing=[c for c in out if c.status == "pending" and c.direction == "outgoing"],
    )


async def answer_connection(
    session: AsyncSession,
    bus: EventBus,
    user: User,
    connection_id: str,
    accept: bool,
    now: dt.datetime,
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


async def block(
    session: AsyncSession, bus: EventBus, user: User, user_id: str, now: dt.datetime
) -> None:
    """Block someone: follows both ways, any connection or request, pending cards and notices
    about each other go; once this commits, ``network.blocked`` is published, and rooms part the
    two (``rooms.followers``)."""
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
    await notifications.forget_between(session, user.id, target.id)
    publish_after_commit(
        session,
        bus,
        UserBlocked(
            channel=user_channel(user.id), at=now, blocker_id=user.id, blocked_id=target.id
        ),
    )


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
    titles = await repo.room_titles(session, [rid for rid, _ in met])
    # One entry per person, however many rooms: the rooms latest first, a card offered in any.
    rooms_of: dict[str, list[tuple[dt.datetime, str]]] = {}
    for (rid, oid), at in met.items():
        rooms_of.setdefault(oid, []).append((at, rid))
    people = []
    for oid, visits in rooms_of.items():
        visits.sort(reverse=True)
        at, latest = visits[0]
        people.append(
            MetPersonOut(
                person=person_out(oid, profiles.get(oid)),
                room_id=latest,
                rooms=[MetRoom(id=rid, title=titles.get(rid, "")) for _, rid in visits],
                met_at=at,
                listed_until=at + MET_LISTED_FOR,
                connection="connected" if oid in connected else _state(rows.get(oid), user.id),
                card_sent=any((user.id, oid, rid) in cards for _, rid in visits),
                card_received=any((oid, user.id, rid) in cards for _, rid in visits),
            )
        )
    people.sort(key=lambda p: (p.met_at, p.person.id), reverse=True)
    return MetListOut(people=people)


def _card_out(
    card: ContactCard, viewer_id: str, other: PersonOut, room_title: str = ""
) -> CardOut:
    status = card.status if card.status in ("pending", "accepted", "declined") else "pending"
    return CardOut(
        id=card.id, room_id=card.room_id, room_title=room_title, status=status,
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
    await require_name(session, user.id)
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
        session,
        bus,
        target.id,
        "card_offered",
        f"card:{card.id}",
        Message("notice.card_offered", {"name": name}),
        now,
        {"user_id": user.id, "room_id": room_id, "card_id": card.id},
    )
    return _card_out(
        card, user.id, person_out(target.id, await repo.profile_of(session, target.id))
    )


async def cards_of(session: AsyncSession, user: User, now: dt.datetime) -> CardListOut:
    """Cards offered to you still waiting for an answer, and the cards you offered (30 days)."""
    cards = list(await repo.cards_of(session, user.id, now - CARDS_LISTED_FOR))
    blocked = await repo.blocked_between_ids(session, user.id)
    others = [c.recipient_id if c.sender_id == user.id else c.sender_id for c in cards]
    profiles = await repo.profiles_of(session, others)
    titles = await repo.room_titles(session, [c.room_id for c in cards])
    out = [
        _card_out(c, user.id, person_out(o, profiles.get(o)), titles.get(c.room_id, ""))
        for c, o in zip(cards, others, strict=True)
        if o not in blocked
    ]
    return CardListOut(
        received=[c for c in out if c.direction == "incoming" and c.status == "pending"],
        sent=[c for c in out if c.direction == "outgoing"],
    )


async def card_sharing(session: AsyncSession, user: User) -> CardSharing:
    """What your card carries besides your public profile."""
    profile = await repo.profile_of(session, user.id)
    if profile is None:
        return CardSharing()
    return CardSharing(
        email=profile.card_email or "",
        share_links=bool(profile.card_share_links),
        share_phone=bool(profile.card_share_phone),
    )


async def set_card_sharing(session: AsyncSession, user: User, body: CardSharing) -> CardSharing:
    """Choose what your card carries (all of it at once)."""
    profile = await repo.ensure_profile(session, user.id)
    profile.card_email = body.email
    profile.card_share_links = body.share_links
    profile.card_share_phone = body.share_phone
    await session.flush()
    return await card_sharing(session, user)


async def card_detail(session: AsyncSession, user: User, card_id: str) -> CardDetailOut:
    """A card as its owner, or the person it was offered to, sees it, with what it carries.

    The recipient sees it while it waits for an answer and after accepting it; a declined card,
    someone else's card and a card between blocked people are 404.
    """
    card = await repo.card_for_reading(session, card_id)
    if card is None or user.id not in (card.sender_id, card.recipient_id):
        raise CardNotFound()
    if user.id == card.recipient_id and card.status == "declined":
        raise CardNotFound()
    if await repo.is_blocked_between(session, card.sender_id, card.recipient_id):
        raise CardNotFound()
    other = card.recipient_id if user.id == card.sender_id else card.sender_id
    titles = await repo.room_titles(session, [card.room_id])
    base = _card_out(
        card, user.id, person_out(other, await repo.profile_of(session, other)),
        titles.get(card.room_id, ""),
    )
    owner = await repo.profile_of(session, card.sender_id)
    sender = await accounts_repo.user_by_id(session, card.sender_id)
    contact = CardContact(
        name=owner.name if owner else "",
        headline=owner.headline if owner else "",
        company=owner.company if owner else "",
        role=owner.role if owner else "",
        email=(owner.card_email or None) if owner else None,
        links=list(owner.links or []) if owner and owner.card_share_links else [],
        phone=sender.phone if owner and owner.card_share_phone and sender else None,
    )
    return CardDetailOut(**base.model_dump(), contact=contact)


def _vcard_text(value: str) -> str:
    """A vCard 3.0 text value: backslash, comma, semicolon and line breaks escaped."""
    return (
        value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
        .replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 2425), never inside a UTF-8 character."""
    out: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return "\r\n ".join(out)


def vcard(contact: CardContact, photo_jpeg: bytes | None = None) -> str:
    """The card as a vCard 3.0 (text/vcard), what phones' contacts apps import, with the
    owner's photo (a JPEG) when they have one."""
    name = contact.name or "Mi Talk"
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_text(name)}", f"N:;{_vcard_text(name)};;;"]
    if contact.company:
        lines.append(f"ORG:{_vcard_text(contact.company)}")
    if contact.role:
        lines.append(f"TITLE:{_vcard_text(contact.role)}")
    if contact.headline:
        lines.append(f"NOTE:{_vcard_text(contact.headline)}")
    if contact.email:
        lines.append(f"EMAIL;TYPE=INTERNET:{_vcard_text(contact.email)}")
    if contact.phone:
        lines.append(f"TEL;TYPE=CELL:{contact.phone}")
    lines += [f"URL:{_vcard_text(link)}" for link in contact.links]
    if photo_jpeg:
        lines.append(f"PHOTO;ENCODING=b;TYPE=JPEG:{base64.b64encode(photo_jpeg).decode()}")
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


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
        session,
        bus,
        card.sender_id,
        "card_accepted",
        f"cardacc:{card.id}",
        Message("notice.card_accepted", {"name": name}),
        now,
        {"user_id": user.id, "room_id": card.room_id},
    )
    return _connection_out(
        row, user.id, person_out(card.sender_id, await repo.profile_of(session, card.sender_id))
    )


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


UPLOADS_WINDOW = dt.timedelta(hours=24)
NEW_NUMBERS_WINDOW = dt.timedelta(days=30)


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(1, int((moment - now).total_seconds()) + 1)


async def _check_upload_allowance(
    session: AsyncSession, settings: Settings, user: User, added: int, now: dt.datetime
) -> None:
    """Refuse (429) an upload past the day's uploads or the 30 days' new numbers."""
    uploads = await repo.contact_uploads_since(session, user.id, now - NEW_NUMBERS_WINDOW)
    today = [at for at, _ in uploads if at > now - UPLOADS_WINDOW]
    per_day = settings.contacts_uploads_per_day
    if len(today) >= per_day:
        wait = _seconds_until(today[len(today) - per_day] + UPLOADS_WINDOW, now)
        raise RateLimited(
            wait,
            f"At most {per_day} contact uploads a day. Try again in {wait // 60 + 1} minutes.",
        )
    cap = settings.contacts_new_per_30_days
    over = sum(count for _, count in uploads) + added - cap
    if added and over > 0:
        wait, freed = _seconds_until(now + NEW_NUMBERS_WINDOW, now), 0
        for at, count in uploads:  # the day enough of the earlier new numbers leave the window
            freed += count
            if freed >= over:
                wait = _seconds_until(at + NEW_NUMBERS_WINDOW, now)
                break
        raise RateLimited(
            wait,
            f"At most {cap} new numbers in 30 days: this list has {added} new ones. Remove "
            "some, or try again later.",
        )


async def store_contacts(
    session: AsyncSession, settings: Settings, user: User, hashes: list[str], now: dt.datetime
) -> int:
    """Replace your uploaded contacts; returns how many distinct ones are stored.

    Limited (``rate_limited``, nothing stored) to ``contacts_uploads_per_day`` uploads a day
    and ``contacts_new_per_30_days`` numbers new to the list in 30 days, so that swapping
    lists cannot test numbers against the waiting list one after another.
    """
    key = settings.resolved_secret_key
    digests = sorted({contact_digest(key, h) for h in hashes})
    await repo.hold_account(session, user.id)  # concurrent uploads count one after another
    added = len(set(digests) - await repo.contact_digests_of(session, user.id))
    await _check_upload_allowance(session, settings, user, added, now)
    await repo.replace_contact_hashes(session, user.id, digests)
    await repo.record_contact_upload(session, user.id, now, added)
    return len(digests)


async def forget_contacts(session: AsyncSession, user: User) -> None:
    """Forget your uploaded contacts (not an upload: never limited)."""
    await repo.replace_contact_hashes(session, user.id, [])


async def findable(session: AsyncSession, user: User) -> bool:
    """Whether members who have this account's number may find it to let it in."""
    return await repo.phone_digest_of(session, user.id) is not None


async def set_findable(
    session: AsyncSession, key: bytes, is_sqlite: bool, user: User, wanted: bool
) -> bool:
    """Let members who have your number find you on the waiting list (or stop them)."""
    digest = phone_digest(key, user.phone) if wanted else None
    await repo.set_phone_digest(session, user.id, digest, is_sqlite)
    return wanted


async def waiting_contacts(
    session: AsyncSession, key: bytes, is_sqlite: bool, user: User
) -> WaitingContactsOut:
    """Waitlisters who asked to be found and whom you may let in: their number is in your
    uploaded contacts, or one of your connections invited it."""
    connections = await repo.connection_ids(session, user.id)
    matches = await repo.waitlisters_matching(session, user.id, connections, WAITING_LIST_SIZE)
    faces = await people_out(session, [uid for uid, _ in matches])
    return WaitingContactsOut(
        people=[
            WaitingContactOut(person=face, via="contacts" if by_contacts else "connection_invite")
            for face, (_, by_contacts) in zip(faces, matches, strict=True)
        ],
        invites_left=user.invites_left,
        contacts_stored=await repo.count_contact_hashes(session, user.id),
    )


async def contacts_inside(
    session: AsyncSession, key: bytes, is_sqlite: bool, user: User, limit: int
) -> list[str]:
    """Members already inside whose numbers are in your uploaded contacts (ids, newest first):
    only those who asked to be found by their number (``PUT /me/contacts/findable``)."""
    if await repo.count_contact_hashes(session, user.id) == 0:
        return []
    return list(await repo.members_in_contacts(session, user.id, limit))


async def may_let_in(
    session: AsyncSession, key: bytes, is_sqlite: bool, user: User, user_id: str
) -> bool:
    """Whether a waitlister is one you may let in."""
    connections = await repo.connection_ids(session, user.id)
    return any(
        uid == user_id
        for uid, _ in await repo.waitlisters_matching(
            session, user.id, connections, limit=1, only=user_id
        )
    )


async def let_in(
    session: AsyncSession, settings: Settings, member: User, user_id: str, now: dt.datetime
) -> None:
    """Let a matching waitlister in through the access service's admission (spends an invite)."""
    key = settings.resolved_secret_key
    if not await may_let_in(session, key, settings.is_sqlite, member, user_id):
        raise NotYourContact()
    user = await accounts_repo.user_by_id(session, user_id)
    if user is None:
        raise NotYourContact()
    await access.let_in_by_member(session, settings, member, user, now)


# --- avatars ---------------------------------------------------------------------------------


async def set_avatar(
    session: AsyncSession, user: User, encoded: bytes, content_hash: str, now: dt.datetime
) -> ProfileOut:
    """Store an already re-encoded avatar; returns the profile with its new ``avatar_url``."""
    await repo.put_avatar(session, user.id, content_hash, encoded, now)
    return await profile_of(session, user)


async def remove_avatar(session: AsyncSession, user: User) -> None:
    """Remove a person's avatar."""
    await repo.delete_avatar(session, user.id)


async def card_owner_avatar(session: AsyncSession, card_id: str) -> bytes | None:
    """The stored avatar (WebP) of a card's owner, if any; read only after ``card_detail``
    allowed the reader to see the card."""
    card = await repo.card_for_reading(session, card_id)
    avatar = await repo.avatar_of(session, card.sender_id) if card is not None else None
    return avatar.data if avatar is not None else None


async def avatar_bytes(session: AsyncSession, user_id: str, content_hash: str) -> bytes:
    """The image behind an avatar URL; an old hash is 404 so a replaced image is never served."""
    avatar = await repo.avatar_of(session, user_id)
    if avatar is None or avatar.content_hash != content_hash:
        raise AvatarNotFound()
    return avatar.data
