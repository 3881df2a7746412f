"""HTTP routes of invites, the waitlist and passes."""

from __future__ import annotations

import hmac

import datetime as dt

from fastapi import APIRouter, Request, Response, status

from mitalk.access import service
from mitalk.access.models import PassWindow
from mitalk.access.schemas import (
    ClaimOut,
    ClaimWindowOut,
    InviteListOut,
    InviteOut,
    InviteRequest,
    WaitlistMeOut,
    WaitlistStatsOut,
)
from mitalk.accounts import service as accounts_service
from mitalk.accounts.dependencies import BearerToken, CurrentAccount, CurrentMember
from mitalk.accounts.phones import InvalidPhone, normalize_phone
from mitalk.core.database import Database
from mitalk.core.deps import AppSettings, DbSession, Now
from mitalk.core.errors import AppError, NotActive, NotAuthenticated, NotFound, error_responses

router = APIRouter(tags=["access"])


class NotWaitlisted(AppError):
    status, code, message = 409, "not_waitlisted", "You are a member already: you have no place in line."


def window_out(window: PassWindow, now: dt.datetime) -> ClaimWindowOut:
    """A claim window as waitlisters see it."""
    return ClaimWindowOut(
        id=window.id,
        state=service.window_state(window, now),
        opens_at=window.opens_at,
        closes_at=window.closes_at,
        total=window.total,
        remaining=max(0, window.total - window.granted),
    )


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteOut,
    responses=error_responses(
        NotAuthenticated, NotActive, InvalidPhone, service.NoInvitesLeft,
        service.AlreadyMember, service.AlreadyInvited,
    ),
)
async def create_invite(
    body: InviteRequest, member: CurrentMember, session: DbSession, settings: AppSettings, now: Now
) -> InviteOut:
    """Invite a phone number; it gets in as soon as it verifies (or at once, if it already waits)."""
    phone = normalize_phone(body.phone, settings.default_region)
    invite = await service.invite(session, settings, member, phone, now)
    return InviteOut.model_validate(invite)


@router.get("/invites", response_model=InviteListOut, responses=error_responses(NotAuthenticated, NotActive))
async def list_invites(member: CurrentMember, session: DbSession) -> InviteListOut:
    """The invites you sent, pending and used, and how many you have left."""
    invites = [InviteOut.model_validate(i) for i in await service.invites_of(session, member)]
    return InviteListOut(invites_left=member.invites_left, invites=invites)


@router.delete(
    "/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, NotFound, service.InviteNotPending),
)
async def revoke_invite(invite_id: str, member: CurrentMember, session: DbSession) -> Response:
    """Revoke a pending invite; the invite comes back to you."""
    await service.revoke_invite(session, member, invite_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/waitlist/me",
    response_model=WaitlistMeOut,
    responses=error_responses(NotAuthenticated, NotWaitlisted),
)
async def my_waitlist_position(account: CurrentAccount, session: DbSession, now: Now) -> WaitlistMeOut:
    """Your position in the waitlist, its size, and the claim window if one is scheduled or open."""
    position = await service.position_of(session, account)
    if position is None:
        raise NotWaitlisted()
    window = await service.claim_window(session, now)
    return WaitlistMeOut(
        position=position.position,
        total=position.total,
        claim_window=window_out(window, now) if window else None,
    )


@router.get(
    "/passes/window",
    response_model=ClaimWindowOut | None,
    responses=error_responses(NotAuthenticated),
)
async def current_claim_window(_: CurrentAccount, session: DbSession, now: Now) -> ClaimWindowOut | None:
    """The open or next claim window, else the last one; null if there never was one."""
    window = await service.claim_window(session, now)
    return window_out(window, now) if window else None


@router.post(
    "/passes/claim",
    response_model=ClaimOut,
    responses=error_responses(
        NotAuthenticated, service.SoldOut, service.WindowClosed, service.AlreadyMember
    ),
)
async def claim_pass(request: Request, token: BearerToken, now: Now) -> ClaimOut:
    """Claim a pass in the open window; asking again after a grant answers the same.

    The hot path of a launch: it authenticates with one read and hands the claim to the
    deployment's claim desk (see ``mitalk.access.claims``), never holding a write transaction.
    """
    db: Database = request.app.state.db
    account = await accounts_service.authenticate_readonly(db, token, now)
    return ClaimOut(status=await request.app.state.claim_desk.claim(account, now))


class OperatorOnly(AppError):
    status, code = 403, "operator_only"
    message = "This needs the operator token (MITALK_OPERATOR_TOKEN) as the bearer token."


@router.get(
    "/admin/waitlist/stats",
    response_model=WaitlistStatsOut,
    tags=["operations"],
    responses=error_responses(OperatorOnly),
)
async def waitlist_stats(token: BearerToken, settings: AppSettings, session: DbSession, now: Now) -> WaitlistStatsOut:
    """For operators: the line's size, passes granted per drop and window, and the claim rate."""
    expected = settings.operator_token
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise OperatorOnly()
    return await service.waitlist_stats(session, now)
