"""HTTP routes of notices: your list, and marking it read."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status

from mitalk.accounts.dependencies import CurrentAccount
from mitalk.core.deps import DbSession, Now
from mitalk.core.errors import NotAuthenticated, error_responses
from mitalk.notifications import service
from mitalk.notifications.schemas import MarkReadRequest, NotificationListOut
from mitalk.realtime.dependencies import Bus

router = APIRouter(tags=["notifications"])


@router.get(
    "/notifications",
    response_model=NotificationListOut,
    responses=error_responses(NotAuthenticated),
)
async def list_notifications(
    account: CurrentAccount, session: DbSession, limit: int = Query(50, ge=1, le=200)
) -> NotificationListOut:
    """Your notices, newest first, with how many are unread (waitlisted accounts too)."""
    return await service.notices_of(session, account, limit)


@router.post(
    "/notifications/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated),
)
async def mark_notifications_read(
    body: MarkReadRequest, account: CurrentAccount, session: DbSession, bus: Bus, now: Now
) -> Response:
    """Mark your notices up to and including ``up_to`` read (your other devices hear it on the
    account socket as ``notification.read``)."""
    await service.mark_read(session, bus, account, body.up_to, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
