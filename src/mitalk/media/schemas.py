"""Signaling messages of the media endpoints: SDP in, SDP out, nothing of Janus's own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Audio-only SDP is a few kB; this bounds what a client may make the server forward to Janus.
MAX_SDP_CHARS = 64_000


class SessionDescription(BaseModel):
    """A WebRTC session description (what ``RTCPeerConnection.localDescription`` holds)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP_CHARS)


class TrickledDescription(SessionDescription):
    """A description whose ICE candidates may come later, through ``POST …/media/candidates``."""

    trickle: bool = Field(
        default=False,
        description="True: more candidates follow through POST …/media/candidates (send them "
        "as they are gathered, then `completed`). False (default): the SDP already holds every "
        "candidate (wait for iceGatheringState `complete` before sending it).",
    )


class SpeakerOffer(TrickledDescription):
    """Your offer to send (and hear) audio on stage."""

    type: Literal["offer"]


class ListenerAnswer(TrickledDescription):
    """Your answer to the stage's offer (from ``POST …/media/listen``)."""

    type: Literal["answer"]


# A browser gathers a handful of candidates per connection (host, mDNS, srflx, relay over UDP,
# TCP and TLS); these bound what one connection may make the server forward to Janus.
MAX_CANDIDATES_PER_REQUEST = 20
MAX_CANDIDATES_PER_CONNECTION = 50


class IceCandidate(BaseModel):
    """One ICE candidate as ``RTCIceCandidate.toJSON()`` gives it."""

    model_config = ConfigDict(extra="ignore")  # browsers add usernameFragment

    candidate: str = Field(
        min_length=len("candidate:"),
        max_length=512,
        pattern=r"^candidate:[^\r\n]*$",
        description=(
            "The a=candidate line without its `a=`; an end-of-candidates mark is `completed`."
        ),
    )
    sdpMid: str | None = Field(default=None, max_length=32)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=15)


class CandidatesIn(BaseModel):
    """ICE candidates your connection gathered after its description was sent (trickle ICE)."""

    model_config = ConfigDict(extra="forbid")

    candidates: list[IceCandidate] = Field(
        default_factory=list, max_length=MAX_CANDIDATES_PER_REQUEST
    )
    completed: bool = Field(
        default=False, description="True once gathering is complete (no more candidates)."
    )


class IceServer(BaseModel):
    """An RTCIceServer: TURN URLs and a credential for them, valid for minutes."""

    urls: list[str] = Field(description="turn: and turns: URLs (UDP, TCP, TLS).")
    username: str | None = Field(default=None, description="<expiry>:<account id>")
    credential: str | None = None


ICE_SERVERS_DESCRIPTION = (
    "ICE servers for your connections (RTCConfiguration.iceServers): TURN with a credential "
    "that expires in minutes, so use them for a connection you start now; empty when the "
    "deployment runs no TURN. Every answer carries fresh ones."
)


class IceServersOut(BaseModel):
    """ICE servers to create your next connection with (a speaker's first offer needs them)."""

    ice_servers: list[IceServer] = Field(description=ICE_SERVERS_DESCRIPTION)


class StageAnswerOut(BaseModel):
    """The media server's answer to your offer, and whether you start muted."""

    answer: SessionDescription
    muted: bool = Field(description="Muted by the server: unmute with POST …/unmute.")
    ice_servers: list[IceServer] = Field(description=ICE_SERVERS_DESCRIPTION)


class AudienceOfferOut(BaseModel):
    """The stage's receive-only offer: answer it with ``POST …/media/answer``."""

    offer: SessionDescription
    ice_servers: list[IceServer] = Field(description=ICE_SERVERS_DESCRIPTION)
