"""Stages carry audio end to end through a real Janus: speakers, listeners, viewers, moderation."""

from __future__ import annotations

import asyncio

import pytest

from mitalk.media import bots
from mitalk.media.audio import dominant_frequency, sounding_fraction
from mitalk.media.janus_client import JanusPluginError
from mitalk.media.stage import Participant, StageManager
from mitalk.media.supervisor import JanusSupervisor

from .factories import (
    close_all,
    connected,
    heard,
    janus_sockets,
    join,
    new_stage_id,
    sound_arrives,
    watch,
)

TONE_HZ = 440.0


async def test_speaker_tone_reaches_viewer_and_other_participant(stages: StageManager) -> None:
    stage_id = new_stage_id()
    await stages.create_stage(stage_id, ["speaker", "listener"])
    try:
        speaker = await join(stages, stage_id, "speaker", bots.speaker(frequency=TONE_HZ))
        listener = await join(stages, stage_id, "listener", bots.listener())
        viewer = await watch(stages, stage_id, bots.listener())
        try:
            for seat in (listener, viewer):
                await sound_arrives(seat.peer)
                samples = await heard(seat.peer)
                rate = seat.peer.recorder.rate
                assert dominant_frequency(samples, rate) == pytest.approx(TONE_HZ, abs=5)
                assert sounding_fraction(samples, rate) > 0.9
            # A speaker hears the mix without its own voice: here, nothing.
            assert sounding_fraction(await heard(speaker.peer), 48000) < 0.1
        finally:
            await close_all(speaker, listener, viewer)
    finally:
        await stages.destroy_stage(stage_id)


async def test_participant_joined_muted_is_silent_until_unmuted(stages: StageManager) -> None:
    stage_id = new_stage_id()
    await stages.create_stage(stage_id, ["speaker", "listener"])
    try:
        speaker = await join(stages, stage_id, "speaker", bots.speaker(), muted=True)
        listener = await join(stages, stage_id, "listener", bots.listener())
        viewer = await watch(stages, stage_id, bots.listener())
        try:
            await connected(speaker.peer)  # Its tone reaches Janus: only the mute stops it.
            for seat in (listener, viewer):
                assert sounding_fraction(await heard(seat.peer), 48000) < 0.05
            # The same set-up does carry the tone once the server unmutes the speaker, so the
            # silence above is the mute and not a broken path.
            assert isinstance(speaker.seat, Participant)
            await stages.unmute(stage_id, speaker.seat.participant_id)
            await sound_arrives(listener.peer)
            samples = await heard(listener.peer)
            assert dominant_frequency(samples, 48000) == pytest.approx(TONE_HZ, abs=5)

            await stages.mute(stage_id, speaker.seat.participant_id)
            await heard(viewer.peer, 0.5)  # Let the mix drain.
            assert sounding_fraction(await heard(viewer.peer), 48000) < 0.05
        finally:
            await close_all(speaker, listener, viewer)
    finally:
        await stages.destroy_stage(stage_id)


async def test_mountpoint_takes_rtp_from_loopback_only(
    stages: StageManager, janus: JanusSupervisor
) -> None:
    stage_id = new_stage_id()
    stage = await stages.create_stage(stage_id)
    try:
        assert janus.pid is not None
        udp = janus_sockets(janus.pid, "-u")
        # Anyone who could reach the mountpoint's port could inject audio into the stage.
        assert f"127.0.0.1:{stage.forward_port}" in udp
        assert f"*:{stage.forward_port}" not in udp
        assert f"0.0.0.0:{stage.forward_port}" not in udp
        # (AudioBridge's forwarder sends from a wildcard-bound ephemeral port that Janus never
        # reads from; it is not a way in.)
    finally:
        await stages.destroy_stage(stage_id)
    assert f"127.0.0.1:{stage.forward_port}" not in janus_sockets(janus.pid, "-u")


async def test_destroying_a_stage_leaves_nothing_in_janus(stages: StageManager) -> None:
    stage_id = new_stage_id()
    await stages.create_stage(stage_id, ["speaker"])
    speaker = await join(stages, stage_id, "speaker", bots.speaker())
    viewer = await watch(stages, stage_id, bots.listener())
    assert stage_id in await stages.list_rooms()
    assert stage_id in await stages.list_mountpoints()

    await stages.destroy_stage(stage_id)
    await close_all(speaker, viewer)

    assert stage_id not in await stages.list_rooms()
    assert stage_id not in await stages.list_mountpoints()
    await stages.destroy_stage(stage_id)  # Destroying twice is harmless.


async def test_reconcile_destroys_stages_the_service_does_not_know(stages: StageManager) -> None:
    kept, orphan = new_stage_id(), new_stage_id()
    await stages.create_stage(kept)
    await stages.create_stage(orphan)
    try:
        destroyed = await stages.reconcile(known_stage_ids=[kept])
        assert orphan in destroyed and kept not in destroyed
        assert kept in await stages.list_rooms()
        assert orphan not in await stages.list_rooms()
        assert orphan not in await stages.list_mountpoints()
    finally:
        await stages.destroy_stage(kept)


async def test_only_allowed_tokens_join_and_a_kick_bans(stages: StageManager) -> None:
    stage_id = new_stage_id()
    await stages.create_stage(stage_id, ["speaker"])
    try:
        with pytest.raises(JanusPluginError):
            await join(stages, stage_id, "stranger", bots.listener())

        await stages.allow(stage_id, ["guest"])
        guest = await join(stages, stage_id, "guest", bots.listener())
        assert isinstance(guest.seat, Participant)
        ids = {p["id"] for p in await stages.participants(stage_id)}
        assert guest.seat.participant_id in ids

        await stages.kick(stage_id, guest.seat.participant_id, token="guest")
        # Janus tears the kicked participant's connection down asynchronously.
        async with asyncio.timeout(3):
            while guest.seat.participant_id in {
                p["id"] for p in await stages.participants(stage_id)
            }:
                await asyncio.sleep(0.05)
        await guest.peer.close()
        with pytest.raises(JanusPluginError):
            await join(stages, stage_id, "guest", bots.listener())
    finally:
        await stages.destroy_stage(stage_id)
