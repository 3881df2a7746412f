"""HTTP routes of invites, the waitlist and passes."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response, status
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from mitalk.access import claims, errors, service
from mitalk.access.errors import NotWaitlisted, OperatorOnly
from mitalk.access.presenters import window_out
from mitalk.access.schemas import (
    ClaimOut,
    ClaimWindowOut,
    InviteListOut,
    InviteOut,
    InviteRequest,
    SuspendRequest,
    SuspensionOut,
    WaitlistMeOut,
    WaitlistStatsOut,
)
from mitalk.accounts.dependencies import (
    BearerToken,
    CurrentAccount,
    CurrentMember,
    request_token,
)
from mitalk.accounts.errors import InvalidPhone, NotMobile
from mitalk.accounts.phones import normalize_phone, require_textable
from mitalk.core.deps import AppSettings, ClientAddress, DbSession, Limiter, Now
from mitalk.core.errors import (
    CsrfFailed,
    NotActive,
    NotAuthenticated,
    NotFound,
    RateLimited,
    error_responses,
)
from mitalk.realtime.dependencies import Bus

router = APIRouter(tags=["access"])


@router.post(
    "/invites",
    status_code=status.HTTP_201_CREATED,
    response_model=InviteOut,
    responses=error_responses(
        NotAuthenticated, NotActive, InvalidPhone, NotMobile, errors.NoInvitesLeft,
        errors.AlreadyInvited, RateLimited,
    ),
)
async def create_invite(
    body: InviteRequest,
    request: Request,
    member: CurrentMember,
    session: DbSession,
    settings: AppSettings,
    bus: Bus,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> InviteOut:
    """Invite a mobile number: it gets a text message, and gets in when it verifies (or at
    once, if it already waits). Each invite spends the sign-in text budgets (429 when full).

    A member's number is invited like any other: the answer does not say who is a member
    (the member is told someone invited them, in the app instead of a text).
    """
    phone = normalize_phone(body.phone, settings.default_region)
    require_textable(phone)
    texting = service.Texting(request.app.state.sms, limiter, address)
    invite = await service.invite(session, settings, bus, member, phone, now, texting)
    return InviteOut.model_validate(invite)


@router.get(
    "/invites", response_model=InviteListOut, responses=error_responses(NotAuthenticated, NotActive)
)
async def list_invites(member: CurrentMember, session: DbSession) -> InviteListOut:
    """The invites you sent, pending and used, and how many you have left."""
    invites = [InviteOut.model_validate(i) for i in await service.invites_of(session, member)]
    return InviteListOut(invites_left=member.invites_left, invites=invites)


@router.delete(
    "/invites/{invite_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated, NotActive, NotFound, errors.InviteNotPending),
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
async def my_waitlist_position(
    account: CurrentAccount, session: DbSession, now: Now
) -> WaitlistMeOut:
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
async def current_claim_window(
    _: CurrentAccount, session: DbSession, now: Now
) -> ClaimWindowOut | None:
    """The open or next claim window, else the last one; null if there never was one."""
    window = await service.claim_window(session, now)
    return window_out(window, now) if window else None


@router.post(
    "/passes/claim",
    response_model=ClaimOut,
    responses=error_responses(
        NotAuthenticated, errors.SoldOut, errors.WindowClosed, errors.AlreadyMember,
        errors.NotEligible, RateLimited, CsrfFailed,
    ),
    openapi_extra={"security": [{"HTTPBearer": []}, {"APIKeyCookie": []}]},
)
async def claim_pass(request: Request) -> Response:
    """Claim a pass in the open window; asking again after a grant answers the same.

    The hot path of a launch: it authenticates with one read and hands the claim to the
    deployment's claim desk (see ``mitalk.access.claims``), never holding a write transaction;
    with Redis, the token, the address's limit and the pass are one Redis call.
    Accounts made after the window was announced get 403 ``not_eligible``; more than
    ``MITALK_CLAIMS_PER_ADDRESS`` claims from one address within ``MITALK_CLAIM_LIMIT_SECONDS``
    get 429 ``rate_limited`` with ``Retry-After``. Authenticated like every route (bearer token,
    or the web session cookie with its CSRF header).
    """
    # Served by ``ClaimEndpoint`` (below), which the app routes to before this route; this
    # declaration documents the route in OpenAPI and answers the same if it is ever reached.
    await claim_from(request)
    return Response(GRANTED_BODY, media_type="application/json")


async def claim_from(request: Request) -> None:
    """The claim of this request (raises the claim's errors); returns once it is granted."""
    state = request.app.state
    token = request_token(request, state.settings)
    address = request.client.host if request.client else "unknown"
    await claims.claim_with_token(
        state.claim_desk, state.db, state.rate_limiter, state.settings, token, address,
        state.clock(),
    )


class ClaimEndpoint:
    """``POST /api/v1/passes/claim`` as a plain ASGI app, routed to before FastAPI's routes.

    The same authentication (``request_token``: bearer, else the session cookie with its CSRF
    check), the same desk call and the same answers as ``claim_pass``, without FastAPI's
    per-request work (its route matching over every route before this one, dependency solving,
    the exit stack) that the rush's profile showed around a call that is otherwise one Redis
    call. Errors propagate to the app's exception handlers like any route's, and the middleware
    (metrics, HSTS, body limits) runs as for every route.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await claim_from(Request(scope, receive))
        # Fresh messages each time: a middleware may change the ones it passes on (HSTS adds
        # its header).
        await send({"type": "http.response.start", "status": 200, "headers": [*GRANTED_HEADERS]})
        await send({"type": "http.response.body", "body": GRANTED_BODY})


class ClaimRoute(Route):
    """A Starlette route that names itself in the scope, as FastAPI's routes do (the metrics
    label requests by ``scope["route"]``)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


def claim_route(prefix: str) -> Route:
    """The fast route of claims (``ClaimEndpoint``), to be put first in the app's routes."""
    return ClaimRoute(
        f"{prefix}/passes/claim", ClaimEndpoint(), methods=["POST"], include_in_schema=False
    )


GRANTED_BODY = ClaimOut(status="granted").model_dump_json().encode()
GRANTED_HEADERS = [
    (b"content-length", str(len(GRANTED_BODY)).encode()),
    (b"content-type", b"application/json"),
]


@router.get(
    "/admin/waitlist/stats",
    response_model=WaitlistStatsOut,
    tags=["operations"],
    responses=error_responses(OperatorOnly),
)
async def waitlist_stats(
    token: BearerToken, settings: AppSettings, session: DbSession, now: Now
) -> WaitlistStatsOut:
    """For operators: the line's size, passes granted per drop and window, and the claim rate."""
    expected = settings.operator_token.get_secret_value() if settings.operator_token else None
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise OperatorOnly()
    return await service.waitlist_stats(session, now)


SUSPENSION_ERRORS = error_responses(
    NotAuthenticated, NotActive, CsrfFailed, errors.StaffOnly, errors.MemberNotFound
)


@router.get(
    "/admin/users/{user_id}/suspend",
    response_model=SuspensionOut,
    tags=["operations"],
    responses=SUSPENSION_ERRORS,
)
async def get_suspension(
    user_id: str, member: CurrentMember, session: DbSession, now: Now
) -> SuspensionOut:
    """Staff: whether an account is suspended, until when, why and by whom."""
    return await service.suspension_of(session, member, user_id, now)


@router.post(
    "/admin/users/{user_id}/suspend",
    response_model=SuspensionOut,
    tags=["operations"],
    responses=error_responses(
        NotAuthenticated, NotActive, CsrfFailed, errors.StaffOnly, errors.MemberNotFound,
        errors.CannotSuspendStaff, errors.InvalidUntil,
    ),
)
async def suspend_user(
    user_id: str,
    body: SuspendRequest,
    member: CurrentMember,
    session: DbSession,
    bus: Bus,
    now: Now,
) -> SuspensionOut:
    """Staff: suspend an account until ``until`` (none: until lifted). Every session of it ends
    at once (its sockets close), sign-in is refused with 403 ``account_suspended``, and it is
    taken out of every room it is in (its audio stops; a room it ran passes on or ends)."""
    return await service.suspend_account(
        session, bus, member, user_id, body.until, body.reason, now
    )


@router.delete(
    "/admin/users/{user_id}/suspend",
    response_model=SuspensionOut,
    tags=["operations"],
    responses=SUSPENSION_ERRORS,
)
async def lift_suspension(
    user_id: str, member: CurrentMember, session: DbSession, now: Now
) -> SuspensionOut:
    """Staff: end a suspension now; the person can sign in again."""
    return await service.lift_suspension(session, member, user_id, now)
