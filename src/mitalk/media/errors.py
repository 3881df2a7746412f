"""The errors of the media layer: each with its HTTP status and stable code."""

from __future__ import annotations

from mitalk.core.errors import AppError, Conflict, Forbidden


class MediaUnavailable(AppError):
    status, code = 503, "media_unavailable"
    message = "The media server is not available right now; try again in a moment."


class MediaRefused(AppError):
    status, code = 422, "media_refused"
    message = "The media server refused this session description."


class ListenersCannotSpeak(Forbidden):
    code = "listeners_cannot_speak"
    message = "Listeners cannot send audio: listen instead, or ask to come on stage."


class NoOfferToAnswer(Conflict):
    code, message = "no_offer_to_answer", "Ask to listen first: there is no offer to answer."


class NoConnectionToTrickle(Conflict):
    code = "no_media_connection"
    message = "Send your offer or answer first: there is no audio connection to add candidates to."


class TooManyCandidates(AppError):
    status, code = 422, "too_many_candidates"
    message = "This connection has sent more ICE candidates than any real client gathers."
