"""How the API shows notices: one stored row as ``NotificationOut``."""

from __future__ import annotations

from mitalk.notifications.models import Notification
from mitalk.notifications.schemas import NotificationOut


def notice_out(row: Notification) -> NotificationOut:
    """A stored notice as the API shows it."""
    return NotificationOut(
        id=row.id, kind=row.kind, body=row.body, data=row.data, created_at=row.created_at,
        read=row.read_at is not None,
    )
