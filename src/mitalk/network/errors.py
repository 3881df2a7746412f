"""The errors of the network: each with its HTTP status and stable code."""

from __future__ import annotations

from mitalk.core.errors import AppError, Conflict, Forbidden, NotFound
from mitalk.network.schemas import (
    AVATAR_MAX_BYTES,
    AVATAR_MAX_PIXELS,
    AVATAR_MAX_SIDE,
    CARDS_PER_DAY,
    CONNECTION_REQUESTS_PER_DAY,
    MAX_BLOCKS,
    MAX_FOLLOWING,
)


class AvatarTooLarge(AppError):
    status, code = 413, "avatar_too_large"
    message = f"An avatar may be at most {AVATAR_MAX_BYTES // (1024 * 1024)} MB."


class AvatarTooManyPixels(AppError):
    status, code = 413, "avatar_too_many_pixels"
    message = (
        f"An avatar may have at most {AVATAR_MAX_PIXELS:,} pixels (e.g. 4096x4096) and no side "
        f"longer than {AVATAR_MAX_SIDE:,}."
    )


class AvatarsBusy(AppError):
    status, code = 503, "busy"
    message = "Too many pictures are being processed right now. Try again in a few seconds."


class UnsupportedImage(AppError):
    status, code = 415, "unsupported_image"
    message = "An avatar must be a JPEG, PNG or WebP image."


class BrokenImage(AppError):
    status, code = 422, "broken_image"
    message = "The image could not be read: it is damaged or incomplete."


class PersonNotFound(NotFound):
    code, message = "user_not_found", "There is no such member."


class CannotTargetSelf(Conflict):
    code, message = "cannot_target_self", "You cannot do this to yourself."


class TooManyRequests(Conflict):
    code = "too_many_connection_requests"
    message = (
        f"You sent {CONNECTION_REQUESTS_PER_DAY} connection requests in the last 24 hours: "
        "try again later."
    )


class FollowingTooMany(Conflict):
    code, message = "following_too_many", f"You follow {MAX_FOLLOWING} people, the most one may."


class BlockingTooMany(Conflict):
    code, message = "blocking_too_many", f"You blocked {MAX_BLOCKS} people, the most one may."


class AlreadyConnected(Conflict):
    code, message = "already_connected", "You are connected already."


class AlreadyRequested(Conflict):
    code, message = (
        "already_requested",
        "You asked already: wait for their answer, or withdraw the request.",
    )


class ConnectionNotFound(NotFound):
    code, message = "connection_not_found", "No such connection or request of yours."


class NotPending(Conflict):
    code, message = "not_pending", "This request was answered already."


class NameRequired(Conflict):
    code = "name_required"
    message = (
        "Add your name to your profile first: people see who raises a hand, speaks or offers "
        "a card."
    )


class CardNotFound(NotFound):
    code, message = "card_not_found", "No such card offered to you."


class NotMet(Forbidden):
    code = "not_met"
    message = "You can offer your card only to someone you were in that room with, within 7 days."


class AlreadyOffered(Conflict):
    code, message = (
        "card_already_offered",
        "You offered your card to this person for this room already.",
    )


class TooManyCards(Conflict):
    code, message = (
        "too_many_cards",
        f"You offered {CARDS_PER_DAY} cards in the last 24 hours: try again later.",
    )


class NotYourContact(NotFound):
    code = "not_your_contact"
    message = "No such waitlisted person among your contacts or your connections' invites."


class AvatarNotFound(NotFound):
    code, message = "avatar_not_found", "There is no such avatar (it may have been replaced)."
