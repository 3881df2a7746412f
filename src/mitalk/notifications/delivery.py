"""The text-message worker: sends the notification outbox with retries, once per notice."""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog

from mitalk.accounts.sms import SmsError, SmsSender
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.notifications import repository as repo

log = structlog.get_logger(__name__)

LEASE_SECONDS = 60
MAX_ATTEMPTS = 6


def retry_delay(attempts: int) -> dt.timedelta:
    """Back-off after a failed attempt: 2, 4, 8, … seconds, at most 5 minutes."""
    return dt.timedelta(seconds=min(300, 2**attempts))


async def deliver_due(db: Database, sms: SmsSender, batch: int = 500) -> int:
    """Send one batch of due messages; returns how many were handed over.

    A batch is leased first (committed as ``sending`` with a deadline), then sent, then marked
    sent. A worker that dies mid-batch leaves the lease to run out and the next worker sends
    again with the same key, which the sender de-duplicates where it can.
    """
    now = utcnow()
    async with unit_of_work(db) as session:
        leased = await repo.lease_due_sms(
            session, now, now + dt.timedelta(seconds=LEASE_SECONDS), batch, lock=not db.is_sqlite
        )
    if not leased:
        return 0
    sent: list[int] = []
    failed: list[tuple[int, str]] = []
    for notice_id, phone, body, key in leased:
        try:
            await sms.send(phone, body, key=key)
            sent.append(notice_id)
        except SmsError as exc:
            failed.append((notice_id, str(exc)))
    async with unit_of_work(db) as session:
        await repo.mark_sms_sent(session, sent, utcnow())
        if failed:
            attempts = await repo.attempts_of(session, [i for i, _ in failed])
            for notice_id, error in failed:
                tries = attempts.get(notice_id, MAX_ATTEMPTS)
                retry_at = utcnow() + retry_delay(tries) if tries < MAX_ATTEMPTS else None
                await repo.mark_sms_failed(session, notice_id, retry_at)
                log.warning(
                    "sms_failed",
                    notice=notice_id,
                    attempts=tries,
                    retry=retry_at is not None,
                    error=error,
                )
    return len(sent)


async def drain(db: Database, sms: SmsSender, batch: int = 500) -> int:
    """Send everything due now; returns how many were sent."""
    total = 0
    while sent := await deliver_due(db, sms, batch):
        total += sent
    return total


async def run_worker(
    db: Database, sms: SmsSender, stop: asyncio.Event, idle_seconds: float = 1.0
) -> None:
    """Deliver until ``stop`` is set, polling every ``idle_seconds`` when there is nothing to do."""
    while not stop.is_set():
        try:
            if await deliver_due(db, sms):
                continue
        except Exception:  # keep delivering after a passing database error
            log.exception("sms_worker_error")
        try:
            await asyncio.wait_for(stop.wait(), idle_seconds)
        except TimeoutError:
            pass
