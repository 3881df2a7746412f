"""Notices: the one way every context tells someone something, and how people read them.

``notify`` writes one notice in the caller's transaction (``dedupe_key`` makes it exactly once:
a second call with the same key writes nothing and delivers nothing); ``notify_many`` writes one
per person a query yields in a single INSERT … SELECT (a room's start to the host's followers).
After the transaction commits, each new notice is published to its person's live connections as
``notification.new`` with their unread count. ``notify_quietly`` and ``notify_quietly_from`` write
without live delivery, for passes (whose people are not members yet and learn it from their
account socket). Text messages are sent by the outbox worker in ``delivery.py``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import structlog
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.accounts.models import User
from mitalk.core.database import after_commit
from mitalk.core.messages import LANGUAGES, Message
from mitalk.notifications import repository as repo
from mitalk.notifications.events import NotificationsRead, notification_event
from mitalk.notifications.presenters import notice_out
from mitalk.notifications.schemas import NotificationListOut, NotificationOut
from mitalk.realtime.bus import EventBus, publish_after_commit
from mitalk.realtime.events import user_channel

log = structlog.get_logger(__name__)
MAX_BODY = 320


class Kind(StrEnum):
    """What a notice is about."""

    room_started = "room_started"  # someone you follow started a room
    connection_request = "connection_request"
    connection_accepted = "connection_accepted"
    brought_on_stage = "brought_on_stage"
    room_reminder = "room_reminder"  # a room you RSVP'd starts soon
    room_starting = "room_starting"  # a room you RSVP'd is live now
    pass_granted = "pass_granted"  # you are let in: a pass, a drop, a contact
    pinged = "pinged"  # someone you follow asks you into the room they are in
    invited_as_member = "invited_as_member"  # someone invited your number; you are in already


async def notices_of(session: AsyncSession, user: User, limit: int = 50) -> NotificationListOut:
    """A person's newest notices, newest first, with the unread count."""
    notices = await repo.notices_of(session, user.id, limit)
    return NotificationListOut(
        unread=await repo.unread_count(session, user.id),
        notifications=[notice_out(n) for n in notices],
    )


async def mark_read(
    session: AsyncSession, bus: EventBus, user: User, up_to: int, now: dt.datetime
) -> None:
    """Mark a person's notices up to ``up_to`` read; after the commit their other devices hear
    it (``notification.read`` with the unread count left), so every bell shows the same."""
    await repo.mark_read(session, user.id, up_to, now)
    unread = await repo.unread_count(session, user.id)
    publish_after_commit(
        session,
        bus,
        NotificationsRead(channel=user_channel(user.id), at=now, up_to=up_to, unread=unread),
    )


async def forget_between(session: AsyncSession, a: str, b: str) -> None:
    """Delete each one's notices that link to the other (a block severs them)."""
    for owner, other in ((a, b), (b, a)):
        await repo.delete_about(session, owner, other)


def _clip(body: str) -> str:
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"


# What a notice says: a catalog message, written in each reader's language (core.messages), or
# a text that reads the same in every language.
Body = str | Message


def _bodies(body: Body) -> repo.Bodies:
    """The notice's text in every language, clipped."""
    if isinstance(body, str):
        return {"en": _clip(body)}
    return {lang: _clip(body.render(lang)) for lang in LANGUAGES}


async def notify(
    session: AsyncSession,
    bus: EventBus,
    user_id: str,
    kind: Kind | str,
    body: Body,
    dedupe_key: str,
    *,
    now: dt.datetime,
    data: dict[str, str] | None = None,
    sms: bool = False,
) -> NotificationOut | None:
    """Notify one person (once per ``dedupe_key``); delivered live after commit.

    Returns the new notice, or None when one with this key exists already. ``sms`` also puts
    it in the text-message outbox (the SMS worker sends it).
    """
    text = (
        body.render(await repo.language_of(session, user_id))
        if isinstance(body, Message)
        else body
    )
    row = await repo.add_notice(
        session, user_id, str(kind), _clip(text), dedupe_key, data, now, sms
    )
    if row is None:
        return None
    notice = notice_out(row)
    unread = await repo.unread_count(session, user_id)
    _deliver_after_commit(session, bus, [(user_id, notice, unread)])
    return notice


async def notify_many(
    session: AsyncSession,
    bus: EventBus,
    recipients: Select[str],
    kind: Kind | str,
    body: Body,
    key_prefix: str,
    *,
    now: dt.datetime,
    data: dict[str, str] | None = None,
    sms: bool = False,
) -> int:
    """Notify everyone ``recipients`` (a query of user ids) yields, once per ``key_prefix``.

    One INSERT … SELECT writes every row; returns how many notices were new.
    """
    rows = await repo.add_notices_from(
        session, recipients, str(kind), _bodies(body), key_prefix, data, now, sms
    )
    if rows:
        counts = await repo.unread_counts(session, [user_id for _, user_id, _ in rows])
        _deliver_after_commit(
            session,
            bus,
            [
                (
                    user_id,
                    NotificationOut(
                        id=notice_id,
                        kind=str(kind),
                        body=text,
                        data=data,
                        created_at=now,
                        read=False,
                    ),
                    counts.get(user_id, 1),
                )
                for notice_id, user_id, text in rows
            ],
        )
    return len(rows)


async def notify_quietly(
    session: AsyncSession, user_ids: Sequence[str], kind: Kind | str, body: Body,
    key_prefix: str, *, now: dt.datetime, sms: bool = False,
) -> None:
    """Write one notice per person in bulk, without live delivery; ``key_prefix:user`` is unique."""
    await repo.add_notices(session, user_ids, str(kind), key_prefix, _bodies(body), now, sms)


async def notify_quietly_from(
    session: AsyncSession, recipients: Select[str], kind: Kind | str, body: Body,
    key_prefix: str, *, now: dt.datetime, sms: bool = False,
) -> None:
    """Write one notice per person ``recipients`` yields in one INSERT … SELECT that returns
    nothing, without live delivery: a pass drop's batch of thousands; ``key_prefix:user`` is
    unique, and people who have it already are skipped."""
    await repo.add_notices_quietly_from(
        session, recipients, str(kind), _bodies(body), key_prefix, now, sms
    )


# A fan-out bigger than this is published by a background task, so that the request that
# caused it (a popular host starting a room) does not wait for every follower's event.
INLINE_DELIVERY = 50
_background: set[asyncio.Task[None]] = set()


def _deliver_after_commit(
    session: AsyncSession, bus: EventBus, notices: Sequence[tuple[str, NotificationOut, int]]
) -> None:
    """Queue live delivery (``notification.new`` on each person's channel) for after the commit;
    a rollback drops it with the notices."""
    if len(notices) <= INLINE_DELIVERY:
        for uid, notice, unread in notices:
            publish_after_commit(
                session, bus, notification_event(uid, notice, unread, notice.created_at)
            )
        return

    async def publish_all() -> None:
        # Built here, not in the request: ~0.1 ms of pydantic per event adds up for 100k followers.
        for uid, notice, unread in notices:
            try:
                await bus.publish(notification_event(uid, notice, unread, notice.created_at))
            except Exception:  # the notices are stored; the list shows them
                log.exception("notification_delivery_failed", user=uid)

    async def start() -> None:
        task = asyncio.create_task(publish_all())
        _background.add(task)
        task.add_done_callback(_background.discard)

    after_commit(session, start)
