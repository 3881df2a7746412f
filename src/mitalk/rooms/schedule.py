"""Scheduled rooms over time: reminders before they start, lapsing when they never do, and
the calendar file.

A background task of the serving process (``run_worker``, like the text-message worker) looks
every ``interval`` seconds for

- scheduled rooms starting within ``MITALK_ROOM_REMINDER_MINUTES``: each person who RSVP'd
  gets one ``room_reminder`` notice (dedupe key ``room_reminder:ROOM:USER``, so two workers or
  a crash between the notices and the room's ``reminded_at`` never send one twice);
- scheduled rooms whose host did not start them within ``MITALK_ROOM_SCHEDULE_LAPSE_HOURS`` of
  their time: they end (status ``ended``, moderation log ``lapse``), which frees the host's
  scheduled-room allowance and takes them out of the hallway and search.

The "starting now" notices are written by ``rooms.service.start_room`` in the start's own
transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import icalendar
import structlog

from mitalk.core.database import Database, unit_of_work
from mitalk.core.messages import Message
from mitalk.core.settings import Settings
from mitalk.notifications.service import Kind, notify_many
from mitalk.realtime.bus import EventBus
from mitalk.rooms import repository as repo
from mitalk.rooms.models import Room

log = structlog.get_logger(__name__)

BATCH = 100
CALENDAR_DURATION = dt.timedelta(hours=1)


async def send_reminders(db: Database, settings: Settings, bus: EventBus, now: dt.datetime) -> int:
    """Write the reminders of rooms starting soon; returns how many rooms were handled."""
    before = now + dt.timedelta(minutes=settings.room_reminder_minutes)
    async with unit_of_work(db) as session:
        rooms = await repo.due_reminders(session, before, BATCH)
        for room in rooms:
            assert room.starts_at is not None
            minutes = max(0, round((room.starts_at - now).total_seconds() / 60))
            await notify_many(
                session, bus, repo.rsvp_user_ids(room.id), Kind.room_reminder,
                Message("notice.room_reminder", {"room": room.title, "count": minutes})
                if minutes
                else Message("notice.room_starts_now", {"room": room.title}),
                f"room_reminder:{room.id}", now=now, data={"room_id": room.id},
            )
            room.reminded_at = now
        return len(rooms)


async def lapse_unstarted(db: Database, settings: Settings, now: dt.datetime) -> int:
    """End scheduled rooms their host never started; returns how many lapsed."""
    cutoff = now - dt.timedelta(hours=settings.room_schedule_lapse_hours)
    async with unit_of_work(db) as session:
        rooms = await repo.lapsed_rooms(session, cutoff, BATCH)
        for room in rooms:
            room.status, room.ended_at = "ended", now
            await repo.add_moderation(session, room.id, None, "lapse", None, now)
        return len(rooms)


async def run_once(db: Database, settings: Settings, bus: EventBus, now: dt.datetime) -> int:
    """One pass of the worker; returns how many rooms it handled."""
    return await send_reminders(db, settings, bus, now) + await lapse_unstarted(db, settings, now)


async def run_worker(
    db: Database, settings: Settings, bus: EventBus, stop: asyncio.Event,
    clock: Callable[[], dt.datetime], interval: float = 15.0,
) -> None:
    """Remind and lapse until ``stop`` is set, every ``interval`` seconds."""
    while not stop.is_set():
        try:
            if await run_once(db, settings, bus, clock()) >= BATCH:
                continue  # more are due: no pause
        except Exception:  # keep going after a passing database error
            log.exception("schedule_worker_error")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


def calendar_file(room: Room, url: str, now: dt.datetime) -> bytes:
    """An RFC 5545 calendar with the room as one event (UTC times, CRLF lines, folded)."""
    start = room.starts_at or room.started_at or room.created_at
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Mi Talk//Rooms//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"room-{room.id}@mitalk")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", start.astimezone(dt.UTC))
    event.add("dtend", (start + CALENDAR_DURATION).astimezone(dt.UTC))
    event.add("summary", room.title)
    if room.topics:
        event.add("description", "Topics: " + ", ".join(room.topics))
    event.add("url", url)
    event.add(
        "status", "CANCELLED" if room.status == "ended" and room.started_at is None else "CONFIRMED"
    )
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
