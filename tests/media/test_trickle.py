"""Trickle ICE through the server: candidates a client posts reach Janus on its own seat only.

On a flat network a connection comes up without any candidate from the client (Janus learns
peer-reflexive ones from the client's checks), so connecting proves nothing about trickling.
Here the namespace's firewall drops every *new* UDP flow towards Janus's media ports: a path
opens only when Janus sends the first check, and Janus can send it only to candidates it was
told about. A client whose SDP carries no candidate therefore connects exactly when the
candidates it posts to ``…/media/candidates`` reach Janus.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections.abc import Iterator

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCConfiguration

from live import live_server, run_cli
from mitalk.media.bots import RATE, TrackRecorder
from mitalk.media.schemas import MAX_CANDIDATES_PER_CONNECTION

from .conftest import Netns
from .served import JANUS_API_PORT, RTP_PORT_RANGE, Person, Served, is_tone, until

TONE_HZ = 440.0
TABLE = "mitalk_test_trickle"


@pytest.fixture(scope="module")
def served(netns: Netns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `mitalk serve` (managed Janus) for this module's tests."""
    data = tmp_path_factory.mktemp("served") / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    extra = {
        "MITALK_MEDIA": "managed",
        "MITALK_JANUS_API_PORT": str(JANUS_API_PORT),
        "MITALK_JANUS_RTP_PORT_RANGE": RTP_PORT_RANGE,
        "MITALK_CODES_PER_ADDRESS_PER_HOUR": "1000",
        "MITALK_CODE_REQUESTS_PER_ADDRESS_PER_HOUR": "1000",
        "MITALK_VERIFIES_PER_ADDRESS_PER_HOUR": "1000",
    }
    with live_server(data, **extra) as base:
        yield Served(base, data)


@pytest.fixture
def janus_answers_first(netns: Netns) -> Iterator[None]:
    """Drop new UDP flows towards Janus's media address and ports (in the test namespace only).

    Only towards the media address: the stage's mix reaches the mountpoint over loopback on
    ports of the same range, and must keep flowing.
    """
    low, high = RTP_PORT_RANGE.split("-")
    rules = f"""
table inet {TABLE} {{
    chain out {{
        type filter hook output priority 0; policy accept;
        ip daddr {netns.media_address} udp dport {low}-{high} ct state new drop
    }}
}}
"""
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
    try:
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", TABLE], check=True)


def split_candidates(sdp: str) -> tuple[str, list[dict[str, object]]]:
    """The SDP without its candidate lines, and those candidates as a browser would trickle them."""
    kept: list[str] = []
    candidates: list[dict[str, object]] = []
    mid: str | None = None
    index = -1
    for line in sdp.splitlines():
        if line.startswith("m="):
            index += 1
        if line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index})
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    for candidate in candidates:  # a=mid follows the candidates in some stacks' SDP
        candidate["sdpMid"] = mid
    return "\r\n".join(kept) + "\r\n", candidates


class TrickleListener:
    """An aiortc listener that sends its answer without candidates and trickles them later."""

    def __init__(self, served: Served, person: Person, room_id: str) -> None:
        self.served, self.person, self.room_id = served, person, room_id
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.recorder = TrackRecorder()
        self.pc.on(
            "track", lambda track: self.recorder.attach(track) if track.kind == "audio" else None
        )
        self.candidates: list[dict[str, object]] = []

    async def answer_without_candidates(self) -> None:
        joined = await self.served.call(self.person, "POST", f"/rooms/{self.room_id}/join")
        assert joined.status_code == 200, joined.text
        listened = await self.served.call(
            self.person, "POST", f"/rooms/{self.room_id}/media/listen"
        )
        assert listened.status_code == 200, listened.text
        offer = listened.json()["offer"]
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        sdp, self.candidates = split_candidates(self.pc.localDescription.sdp)
        assert self.candidates and "a=candidate" not in sdp
        answered = await self.served.call(
            self.person,
            "POST",
            f"/rooms/{self.room_id}/media/answer",
            {"type": "answer", "sdp": sdp, "trickle": True},
        )
        assert answered.status_code == 204, answered.text

    async def trickle(self) -> None:
        for candidate in self.candidates:
            posted = await self.served.call(
                self.person,
                "POST",
                f"/rooms/{self.room_id}/media/candidates",
                {"candidates": [candidate]},
            )
            assert posted.status_code == 204, posted.text
        done = await self.served.call(
            self.person, "POST", f"/rooms/{self.room_id}/media/candidates", {"completed": True}
        )
        assert done.status_code == 204, done.text

    def hears(self, hz: float) -> bool:
        samples = self.recorder.samples(0.5)
        return len(samples) > RATE // 4 and is_tone(samples, hz)

    async def close(self) -> None:
        await self.recorder.stop()
        await self.pc.close()


async def test_trickled_candidates_reach_janus_and_open_the_only_path(
    served: Served, janus_answers_first: None
) -> None:
    host, early, late = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    # The host's bot sends every candidate in its SDP: Janus checks them, so it gets through.
    speaker = served.bot(host, room_id, TONE_HZ, unmute_on_stage=True)
    trickling, waiting = (
        TrickleListener(served, early, room_id),
        TrickleListener(served, late, room_id),
    )
    try:
        await speaker.start()
        await speaker.connected()
        await trickling.answer_without_candidates()
        await waiting.answer_without_candidates()
        await trickling.trickle()
        await until(
            lambda: trickling.hears(TONE_HZ), what="the trickling listener to hear the tone"
        )
        # The other listener had at least as long, but told Janus nothing: no path opened.
        assert waiting.pc.connectionState != "connected"
        assert waiting.recorder.first_frame_at is None
        # Its candidates, posted now, open its path too.
        await waiting.trickle()
        await until(lambda: waiting.hears(TONE_HZ), what="the late listener to hear the tone")
    finally:
        await speaker.close()
        await trickling.close()
        await waiting.close()


async def test_candidates_go_only_to_your_own_live_connection(served: Served) -> None:
    host, guest, outsider = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    path = f"/rooms/{room_id}/media/candidates"
    candidate = {
        "candidate": "candidate:1 1 udp 2130706431 10.99.0.2 40000 typ host",
        "sdpMid": "0",
    }

    # Not in the room: refused before anything reaches Janus.
    refused = await served.call(outsider, "POST", path, {"candidates": [candidate]})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "not_in_room"

    # In the room, but no connection yet: nothing to add candidates to.
    joined = await served.call(guest, "POST", f"/rooms/{room_id}/join")
    assert joined.status_code == 200, joined.text
    refused = await served.call(guest, "POST", path, {"candidates": [candidate]})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "no_media_connection"

    # Asked to listen but not answered yet: still no connection to trickle into.
    listened = await served.call(guest, "POST", f"/rooms/{room_id}/media/listen")
    assert listened.status_code == 200, listened.text
    refused = await served.call(guest, "POST", path, {"candidates": [candidate]})
    assert refused.json()["error"]["code"] == "no_media_connection"

    listener = TrickleListener(served, guest, room_id)
    try:
        offer = listened.json()["offer"]
        await listener.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await listener.pc.setLocalDescription(await listener.pc.createAnswer())
        answered = await served.call(
            guest,
            "POST",
            f"/rooms/{room_id}/media/answer",
            {"type": "answer", "sdp": listener.pc.localDescription.sdp, "trickle": True},
        )
        assert answered.status_code == 204, answered.text

        # Not a candidate line, or a line break smuggled in: bad input, never forwarded.
        for bad in (
            {"candidate": "a=candidate:1 1 udp 1 10.99.0.2 1 typ host", "sdpMid": "0"},
            {"candidate": "candidate:1 1 udp 1 10.99.0.2 1 typ host\r\na=x", "sdpMid": "0"},
            {"candidate": "candidate:" + "1" * 600, "sdpMid": "0"},
        ):
            invalid = await served.call(guest, "POST", path, {"candidates": [bad]})
            assert invalid.status_code == 422, invalid.text
        too_many_at_once = await served.call(guest, "POST", path, {"candidates": [candidate] * 21})
        assert too_many_at_once.status_code == 422

        # Accepted up to the per-connection bound, then refused.
        for _ in range(MAX_CANDIDATES_PER_CONNECTION // 10):
            accepted = await served.call(guest, "POST", path, {"candidates": [candidate] * 10})
            assert accepted.status_code == 204, accepted.text
        refused = await served.call(guest, "POST", path, {"candidates": [candidate]})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "too_many_candidates"

        # Once the person left, their seat is gone: nothing more reaches Janus for them.
        left = await served.call(guest, "POST", f"/rooms/{room_id}/leave")
        assert left.status_code in (200, 204), left.text
        gone = await served.call(guest, "POST", path, {"completed": True})
        assert gone.status_code == 409, gone.text
        assert gone.json()["error"]["code"] == "not_in_room"
    finally:
        await listener.close()


class Counting(asyncio.DatagramProtocol):
    """A UDP socket that counts what arrives (Janus's connectivity checks, if any)."""

    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


async def _udp_counter(address: str) -> tuple[asyncio.DatagramTransport, Counting, int]:
    transport, counter = await asyncio.get_running_loop().create_datagram_endpoint(
        Counting, local_addr=(address, 0)
    )
    return transport, counter, transport.get_extra_info("sockname")[1]


@pytest.fixture
def link_local_address(netns: Netns) -> Iterator[str]:
    """A link-local address on this host (a cloud's metadata service lives at one)."""
    subprocess.run(["ip", "addr", "add", "169.254.99.1/32", "dev", "lo"], check=True)
    try:
        yield "169.254.99.1"
    finally:
        subprocess.run(["ip", "addr", "del", "169.254.99.1/32", "dev", "lo"], check=True)


async def test_candidates_at_loopback_link_local_or_nowhere_never_reach_janus(
    served: Served, netns: Netns, janus_answers_first: None, link_local_address: str
) -> None:
    """Janus sends its checks to where a client's candidates point: never into this host.

    The client's own checks cannot reach Janus here (janus_answers_first), so Janus keeps
    checking every candidate it was given instead of settling on a peer-reflexive one.
    """
    guest, host = await served.person(), await served.person()
    room_id = await served.open_room(host)
    inside, inside_counter, inside_port = await _udp_counter("0.0.0.0")
    # Where the client may point: the media address (plain http keeps the host's own ones).
    # (Janus's checks from it to the namespace's other address leave but never arrive here.)
    other, other_counter, other_port = await _udp_counter(netns.media_address)
    listener = TrickleListener(served, guest, room_id)
    try:
        await listener.answer_without_candidates()
        mid = listener.candidates[0]["sdpMid"]
        candidates = [
            {"candidate": f"candidate:{n} 1 udp 2130706431 {address} {port} typ host",
             "sdpMid": mid, "sdpMLineIndex": 0}
            for n, (address, port) in enumerate([
                ("127.0.0.1", inside_port),
                ("0.0.0.0", inside_port),  # Linux delivers it to the sending host itself
                (link_local_address, inside_port),
                ("::ffff:127.0.0.1", inside_port),
                (netns.media_address, other_port),
            ])
        ]  # fmt: skip
        # All at once, and "completed": Janus (half trickle) starts checking on that mark.
        posted = await served.call(
            guest,
            "POST",
            f"/rooms/{room_id}/media/candidates",
            {"candidates": candidates, "completed": True},
        )
        assert posted.status_code == 204, posted.text  # the usable one goes on
        # Janus checks the usable candidate, retransmitting while it gets no answer ...
        await until(lambda: other_counter.received >= 2, what="Janus's checks to the candidate")
        await asyncio.sleep(1)  # (a round of checks takes some tens of milliseconds)
        # ... and has checked none of the others, which it would have in the same rounds (without
        # the filter, the link-local and unspecified ones arrive here; loopback, test_candidates).
        assert inside_counter.received == 0
    finally:
        await listener.close()
        inside.close()
        other.close()


def test_split_candidates_keeps_everything_else() -> None:
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 5 10.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
    )
    kept, candidates = split_candidates(sdp)
    assert kept == "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    assert candidates == [
        {"candidate": "candidate:1 1 udp 5 10.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    ]
    assert re.search("candidate", kept) is None
