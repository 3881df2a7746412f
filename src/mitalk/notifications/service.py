"""Write notifications and deliver them live: the one way every context notifies someone.

``notify`` writes one notice in the caller's transaction (``dedupe_key`` makes it exactly once:
a second call with the same key writes nothing and delivers nothing); ``notify_many`` writes one
per person a query yields in a single INSERT … SELECT (a room's start to the host's followers).
After the transaction commits, each new notice is published to its person's live connections as
``notification.new`` with their unread count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from enum import StrEnum

import structlog
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.core.database import after_commit
from mitalk.network.models import Notification
from mitalk.network.repository import unread_count
from mitalk.network.schemas import NotificationOut
from mitalk.notifications import repository as repo
from mitalk.realtime.bus import EventBus
from mitalk.realtime.personal import notification_event, publish_to_user

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


def notice_out(row: Notification) -> NotificationOut:
    """A stored notice as the API shows it."""
    return NotificationOut(
        id=row.id, kind=row.kind, body=row.body, data=row.data, created_at=row.created_at,
        read=row.read_at is not None,
    )


def _clip(body: str) -> str:
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"


async def notify(
    session: AsyncSession,
    bus: EventBus,
    user_id: str,
    kind: Kind | str,
    body: str,
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
    row = await repo.add_notice(session, user_id, str(kind), _clip(body), dedupe_key, data, now, sms)
    if row is None:
        return None
    notice = notice_out(row)
    unread = await unread_count(session, user_id)
    _deliver_after_commit(session, bus, [(user_id, notice, unread)])
    return notice


async def notify_many(
    session: AsyncSession,
    bus: EventBus,
    recipients: Select[str],
    kind: Kind | str,
    body: str,
    key_prefix: str,
    *,
    now: dt.datetime,
    data: dict[str, str] | None = None,
    sms: bool = False,
) -> int:
    """Notify everyone ``recipients`` (a query of user ids) yields, once per ``key_prefix``.

    One INSERT … SELECT writes every row; returns how many notices were new.
    """
    body = _clip(body)
    rows = await repo.add_notices_from(session, recipients, str(kind), body, key_prefix, data, now, sms)
    if rows:
        counts = await repo.unread_counts(session, [user_id for _, user_id in rows])
        _deliver_after_commit(
            session,
            bus,
            [
                (user_id, NotificationOut(id=notice_id, kind=str(kind), body=body, data=data, created_at=now, read=False),
                 counts.get(user_id, 1))
                for notice_id, user_id in rows
            ],
        )
    return len(rows)


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
            publish_to_user(session, bus, notification_event(uid, notice, unread, notice.created_at))
        return

    async def publish_all() -> None:
        # Built here, not in the request: ~0.1 ms of pydantic per event adds up for 100k followers.
        for uid, notice, unread in notices:
            try:
                await bus.publish(notification_event(uid, notice, unread, notice.created_at))
            except Exception:  # noqa: BLE001 - the notices are stored; the list shows them
                log.exception("notification_delivery_failed", user=uid)

    async def start() -> None:
        task = asyncio.create_task(publish_all())
        _background.add(task)
        task.add_done_callback(_background.discard)

    after_commit(session, start)
