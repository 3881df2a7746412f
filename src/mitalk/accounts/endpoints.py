"""HTTP routes of sign-in and the account."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.access import service as access
from mitalk.accounts import service
from mitalk.accounts.dependencies import BearerToken, CurrentAccount
from mitalk.accounts.models import User
from mitalk.accounts.phones import InvalidPhone, normalize_phone
from mitalk.accounts.schemas import (
    AccountOut,
    CodeRequest,
    CodeSentOut,
    SignedInOut,
    VerifyRequest,
    WaitlistOut,
)
from mitalk.core.deps import AppSettings, ClientAddress, DbSession, Limiter, Now
from mitalk.core.errors import NotAuthenticated, RateLimited, error_responses
from mitalk.network import service as network

router = APIRouter(tags=["accounts"])


async def account_out(session: AsyncSession, user: User) -> AccountOut:
    """The account as the API shows it to its owner."""
    position = await access.position_of(session, user)
    return AccountOut(
        id=user.id,
        phone=user.phone,
        status="active" if user.status == "active" else "waitlisted",
        is_staff=await access.is_staff(session, user),
        invites_left=user.invites_left if user.status == "active" else 0,
        waitlist=WaitlistOut(position=position.position, total=position.total) if position else None,
        profile=await network.profile_of(session, user),
    )


@router.post(
    "/auth/code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CodeSentOut,
    responses=error_responses(InvalidPhone, RateLimited),
)
async def request_code(
    body: CodeRequest,
    request: Request,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> CodeSentOut:
    """Text a 6-digit sign-in code to a number; the answer never tells whether it is registered."""
    await limiter.hit("code-addr", address, settings.codes_per_address_per_hour, 3600)
    phone = normalize_phone(body.phone, settings.default_region)
    await limiter.hit("code-phone", phone, settings.codes_per_phone_per_hour, 3600)
    sent = await service.send_code(session, settings, request.app.state.sms, phone, now)
    return CodeSentOut(phone=sent.phone, expires_in=sent.expires_in, resend_in=sent.resend_in)


@router.post(
    "/auth/verify",
    response_model=SignedInOut,
    responses=error_responses(InvalidPhone, service.InvalidCode, service.TooManyAttempts, RateLimited),
)
async def verify_code(
    body: VerifyRequest,
    session: DbSession,
    settings: AppSettings,
    limiter: Limiter,
    address: ClientAddress,
    now: Now,
) -> SignedInOut:
    """Exchange a code for a session token; a new number becomes a member or joins the waitlist."""
    await limiter.hit("verify-addr", address, settings.verifies_per_address_per_hour, 3600)
    phone = normalize_phone(body.phone, settings.default_region)
    signed_in = await service.verify_code(session, settings, phone, body.code.strip(), now)
    return SignedInOut(token=signed_in.token, account=await account_out(session, signed_in.user))


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(NotAuthenticated),
)
async def logout(_: CurrentAccount, token: BearerToken, session: DbSession) -> Response:
    """End this session: its token stops working."""
    assert token is not None  # CurrentAccount guarantees it
    await service.sign_out(session, token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=AccountOut, responses=error_responses(NotAuthenticated))
async def me(account: CurrentAccount, session: DbSession) -> AccountOut:
    """Your account: status, staff flag, invites left, waitlist position, profile."""
    return await account_out(session, account)
