"""Small factories for media tests: stages with unique ids, peers joined to them, listening."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from dataclasses import dataclass

from mitalk.media.audio import Pcm
from mitalk.media.bots import AudioPeer
from mitalk.media.stage import Participant, StageManager, Viewer

# How long to wait for audio to start, and how much to analyse once it flows.
FIRST_SOUND_TIMEOUT = 5.0
LISTEN_SECONDS = 1.0


def new_stage_id() -> int:
    """A random stage id, so tests never collide with each other's rooms."""
    return secrets.randbelow(2**31) + 1


@dataclass
class Seat:
    """A peer together with what Janus holds for it."""

    peer: AudioPeer
    seat: Participant | Viewer


async def join(
    stages: StageManager, stage_id: int, token: str, peer: AudioPeer, *, muted: bool = False
) -> Seat:
    """Join ``peer`` to the stage's room as a participant (sending if it has a source)."""
    participant = await stages.join(stage_id, token, await peer.create_offer(), muted=muted)
    await peer.accept_answer(participant.answer)
    return Seat(peer, participant)


async def watch(stages: StageManager, stage_id: int, peer: AudioPeer) -> Seat:
    """Connect ``peer`` to the stage's mountpoint as a viewer."""
    viewer = await stages.watch(stage_id)
    await stages.start_viewer(viewer, await peer.answer_offer(viewer.offer))
    return Seat(peer, viewer)


async def heard(peer: AudioPeer, seconds: float = LISTEN_SECONDS) -> Pcm:
    """What ``peer`` hears during the next ``seconds``, once its first frames arrived."""
    recorder = peer.recorder
    async with asyncio.timeout(FIRST_SOUND_TIMEOUT):
        while recorder.first_frame_at is None:
            await asyncio.sleep(0.02)
    recorder.clear()
    await asyncio.sleep(seconds)
    return recorder.samples()


async def connected(peer: AudioPeer) -> None:
    """Wait until the peer's connection to Janus is up (ICE and DTLS done)."""
    async with asyncio.timeout(FIRST_SOUND_TIMEOUT):
        while peer.pc.connectionState != "connected":
            await asyncio.sleep(0.02)


async def sound_arrives(peer: AudioPeer) -> None:
    """Wait until ``peer`` receives something louder than silence."""
    await asyncio.wait_for(peer.recorder.got_sound.wait(), FIRST_SOUND_TIMEOUT)


async def close_all(*seats: Seat) -> None:
    """Close the peers' connections."""
    for seat in seats:
        await seat.peer.close()


def janus_sockets(pid: int, protocol_flag: str) -> list[str]:
    """Local addresses of the sockets ``pid`` listens on (``-t`` TCP, ``-u`` UDP)."""
    output = subprocess.run(
        ["ss", "-Hnp", "-l", protocol_flag], capture_output=True, text=True, check=True
    ).stdout
    return [line.split()[3] for line in output.splitlines() if f"pid={pid}," in line]
