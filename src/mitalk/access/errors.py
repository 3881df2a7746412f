"""The errors of staged access: each with its HTTP status and stable code."""

from __future__ import annotations

from mitalk.core.errors import AppError, Conflict, Forbidden, NotFound


class NotWaitlisted(AppError):
    status, code, message = (
        409,
        "not_waitlisted",
        "You are a member already: you have no place in line.",
    )


class OperatorOnly(AppError):
    status, code = 403, "operator_only"
    message = "This needs the operator token (MITALK_OPERATOR_TOKEN) as the bearer token."


class NoInvitesLeft(AppError):
    status, code, message = 403, "no_invites_left", "You have no invites left."


class AlreadyMember(Conflict):
    code, message = "already_member", "This number already belongs to a member."


class AlreadyInvited(Conflict):
    code, message = "already_invited", "This number has already been invited."


class InviteNotPending(Conflict):
    code, message = "invite_not_pending", "This invite was already used and cannot be revoked."


class SoldOut(Conflict):
    code, message = "sold_out", "All passes of this window have been claimed."


class NotEligible(AppError):
    status, code, message = (
        403,
        "not_eligible",
        "This account was made after the claim window was announced: it may not claim in it.",
    )


class WindowClosed(Conflict):
    code, message = "window_closed", "No claim window is open right now."


class DropAlreadyRan(Conflict):
    code, message = "drop_already_ran", "A drop with this id already ran."


class DropInterrupted(Conflict):
    code, message = "drop_interrupted", "An earlier drop was interrupted; finish it first."


class LettingInClosed(Conflict):
    code, message = (
        "letting_in_closed",
        "Only staff may enter in the internal phase: no one can be let in yet.",
    )


class WindowAlreadyOpen(Conflict):
    code, message = "window_already_open", "Another claim window is open or scheduled."


class StaffOnly(Forbidden):
    code, message = "staff_only", "Only staff may do this."


class MemberNotFound(NotFound):
    code, message = "user_not_found", "There is no such account."


class CannotSuspendStaff(Conflict):
    code = "cannot_suspend_staff"
    message = "Staff cannot be suspended: take the number off the staff list first."


class InvalidUntil(AppError):
    status, code = 422, "invalid_until"
    message = "A suspension must end in the future (or leave out `until`: until lifted)."
