"""The errors of rooms: each with its HTTP status and stable code (see ``core/errors.py``)."""

from __future__ import annotations

from mitalk.core.errors import AppError, Conflict, Forbidden, NotFound


class RoomNotFound(NotFound):
    code, message = "room_not_found", "There is no such room."


class RoomEnded(Conflict):
    code, message = "room_ended", "This room has ended."


class NotInvited(Forbidden):
    code, message = "not_invited", "This room is for invited people only."


class RemovedFromRoom(Forbidden):
    code, message = "removed_from_room", "A moderator removed you from this room."


class NotInRoom(Conflict):
    code, message = "not_in_room", "You are not in this room: join it first."


class NotAModerator(Forbidden):
    code, message = "not_a_moderator", "Only the room's moderators may do this."


class TargetNotInRoom(Conflict):
    code, message = "target_not_in_room", "That person is not in this room."


class NotOnStage(Conflict):
    code, message = "not_on_stage", "That person is not on stage."


class ListenersCannotUnmute(Forbidden):
    code, message = "listeners_cannot_unmute", "Listeners cannot be heard: ask to come on stage."


class AlreadyOnStage(Conflict):
    code, message = "already_on_stage", "You are on stage already: just speak."


class TargetIsModerator(Conflict):
    code, message = "target_is_moderator", "That person is a moderator."


class LastModerator(Conflict):
    code, message = "last_moderator", "You are the last moderator: make someone else one first."


class CannotRemoveSelf(Conflict):
    code, message = "cannot_remove_self", "You cannot remove yourself: leave the room instead."


class CannotRemoveModerator(Forbidden):
    code, message = "cannot_remove_moderator", "Only the room's host may remove a moderator."


class CannotRemoveHost(Forbidden):
    code, message = "cannot_remove_host", "The room's host cannot be removed from their own room."


class RoomFull(Conflict):
    code, message = "room_full", "This room is full."


class StageFull(Conflict):
    code, message = "stage_full", "The stage is full: move someone back first."


class TooManyLiveRooms(Conflict):
    code, message = (
        "too_many_live_rooms",
        "You host as many live rooms as one person may: end one first.",
    )


class RoomNotStarted(Conflict):
    code, message = "room_not_started", "This room is scheduled: its host has not started it yet."


class RoomNotScheduled(Conflict):
    code, message = "room_not_scheduled", "Only scheduled rooms take RSVPs and can be started."


class NotTheHost(Forbidden):
    code, message = "not_the_host", "Only the room's host may do this."


class InvalidStartTime(AppError):
    status, code = 422, "invalid_start_time"
    message = "A room can be scheduled from a minute ahead up to the scheduling limit."


class TooManyScheduledRooms(Conflict):
    code, message = (
        "too_many_scheduled_rooms",
        "You have as many scheduled rooms as one person may: start or cancel one first.",
    )


class ResyncRequired(AppError):
    status, code = 409, "resync_required"
    message = "Those events are no longer kept: fetch the room again."


class UserNotFound(NotFound):
    code, message = "user_not_found", "There is no such member."


class NotAFollower(AppError):
    status, code = 403, "not_a_follower"
    message = "You can ping only people who follow you."


class TooManyPings(AppError):
    status, code = 429, "too_many_pings"
    message = "You pinged many people in the last hour: try again later."
