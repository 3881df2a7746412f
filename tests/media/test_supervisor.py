"""The supervisor keeps Janus running: a killed Janus comes back and its stages can be re-made."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from mitalk.media import bots
from mitalk.media.audio import dominant_frequency
from mitalk.media.janus_client import JanusClient
from mitalk.media.janus_config import write_janus_config
from mitalk.media.stage import StageManager
from mitalk.media.supervisor import JanusStartError, JanusSupervisor

from .conftest import Netns
from .factories import close_all, heard, join, new_stage_id, sound_arrives, watch


async def test_killed_janus_is_restarted_and_recreated_stage_carries_audio(
    netns: Netns, tmp_path: Path
) -> None:
    # Its own Janus (other port and ports range), so the shared one stays untouched.
    config = write_janus_config(
        tmp_path / "janus",
        api_port=8288,
        rtp_port_range="21000-21999",
        media_interface=netns.media_interface,
    )
    supervisor = JanusSupervisor(config, min_backoff=0.1)
    client = JanusClient(config.api_url, config.api_secret)
    stages = StageManager.from_config(client, config, secret_key=b"test-key")
    stage_id = new_stage_id()
    recreated: list[int] = []

    async def recreate_stages(generation: int) -> None:
        # What the room service does on every (re)start: Janus forgot all rooms.
        await stages.create_stage(stage_id, ["speaker"])
        recreated.append(generation)

    supervisor.on_ready(recreate_stages)
    await supervisor.start()
    try:
        async with asyncio.timeout(5):
            while recreated != [1]:
                await asyncio.sleep(0.02)
        first_pid = supervisor.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)

        async with asyncio.timeout(10):
            while recreated != [1, 2]:
                await asyncio.sleep(0.02)
        assert supervisor.pid not in (None, first_pid)

        speaker = await join(stages, stage_id, "speaker", bots.speaker(frequency=440.0))
        viewer = await watch(stages, stage_id, bots.listener())
        try:
            await sound_arrives(viewer.peer)
            samples = await heard(viewer.peer)
            assert dominant_frequency(samples, 48000) == pytest.approx(440.0, abs=5)
        finally:
            await close_all(speaker, viewer)
    finally:
        await stages.close()
        await client.aclose()
        await supervisor.stop()
    assert not Path(f"/proc/{first_pid}").exists()
    assert supervisor.pid is None


async def test_start_fails_loudly_when_janus_cannot_start(netns: Netns, tmp_path: Path) -> None:
    config = write_janus_config(
        tmp_path / "janus",
        api_port=8388,
        rtp_port_range="22000-22999",
        media_interface=netns.media_interface,
    )
    (config.folder / "janus.jcfg").write_text("general: { this is not a config")
    supervisor = JanusSupervisor(config, ready_timeout=5)
    # Janus itself starts with its insecure defaults when janus.jcfg does not parse (and
    # sometimes crashes on them): either way the supervisor must refuse it. No core dumps of
    # that crash (170 MB each): the limit is inherited by the child.
    core_limit = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (0, core_limit[1]))
    try:
        with pytest.raises(JanusStartError, match="not running the generated config|exited"):
            await supervisor.start()
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, core_limit)
    assert supervisor.pid is None
    # Nothing it opened is left listening (the package's own Janus is on 127.0.0.1:8188).
    listening = subprocess.run(  # noqa: ASYNC221 - a quick local query
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    )
    janus_listeners = {line.split()[3] for line in listening.stdout.splitlines() if "janus" in line}
    assert janus_listeners <= {"127.0.0.1:8188"}
