"""Signaling messages of the media endpoints: SDP in, SDP out, nothing of Janus's own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Audio-only SDP is a few kB; this bounds what a client may make the server forward to Janus.
MAX_SDP_CHARS = 64_000


class SessionDescription(BaseModel):
    """A WebRTC session description (what ``RTCPeerConnection.localDescription`` holds).

    Gather ICE candidates before sending it (wait for ``iceGatheringState == "complete"``):
    there is no trickle endpoint.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)


class SpeakerOffer(SessionDescription):
    """Your offer to send (and hear) audio on stage."""

    type: Literal["offer"]


class ListenerAnswer(SessionDescription):
    """Your answer to the stage's offer (from ``POST …/media/listen``)."""

    type: Literal["answer"]


class StageAnswerOut(BaseModel):
    """The media server's answer to your offer, and whether you start muted."""

    answer: SessionDescription
    muted: bool = Field(description="Muted by the server: unmute with POST …/unmute.")


class AudienceOfferOut(BaseModel):
    """The stage's receive-only offer: answer it with ``POST …/media/answer``."""

    offer: SessionDescription
