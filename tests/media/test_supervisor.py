"""The supervisor keeps Janus running: a killed Janus comes back and its stages can be re-made."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

from mitalk.core.ports import PortTaken, listen_tcp, process_owns_port
from mitalk.media import bots
from mitalk.media.audio import dominant_frequency
from mitalk.media.janus_client import JanusClient
from mitalk.media.janus_config import write_janus_config
from mitalk.media.stage import StageManager
from mitalk.media.supervisor import JanusStartError, JanusSupervisor

from .conftest import Netns
from .factories import close_all, heard, join, new_stage_id, sound_arrives, watch

OWN_NAME = Path("/proc/self/comm").read_text().strip()


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
        with pytest.raises(JanusStartError, match="not running the generated config|exited|killed"):
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


async def test_ports_held_by_another_janus_are_refused_before_starting(
    janus: JanusSupervisor, netns: Netns, tmp_path: Path
) -> None:
    # The package's Janus holds 127.0.0.1:8188 and RTP ports 20000-20999.
    other = janus.pid
    for name, api_port, rtp_range, message in (
        ("api", 8188, "26000-26999", (
            f"the Janus API port 8188 is in use by janus (pid {other}); "
            "set MITALK_JANUS_API_PORT to choose another"
        )),
        ("rtp", 8688, "20500-21499", (
            f"the Janus RTP ports 20500-21499 overlap the ports 20000-20999 of janus pid {other} "
            f"(configured in {janus.config.folder}); set MITALK_JANUS_RTP_PORT_RANGE"
        )),
    ):
        config = write_janus_config(
            tmp_path / name, api_port=api_port, rtp_port_range=rtp_range,
            media_interface=netns.media_interface,
        )
        supervisor = JanusSupervisor(config)
        with pytest.raises(PortTaken) as refused:
            await supervisor.start()
        assert str(refused.value).startswith(message)
        assert not supervisor.ready.is_set() and supervisor.pid is None
        assert not (config.folder / "janus.log").exists()  # it never started a Janus
    assert janus.pid == other and janus.ready.is_set()
    assert process_owns_port(other, "tcp", 8188)


async def test_two_supervisors_racing_for_one_api_port_never_take_the_other_janus_for_theirs(
    netns: Netns, tmp_path: Path
) -> None:
    # Both check the port before either Janus has bound it, so both start one; only one Janus
    # gets the port. Before, the other supervisor saw that one answer `info` (no secret needed)
    # and reported "janus ready", then failed every call with 403 and restarted in a loop.
    supervisors = [
        JanusSupervisor(
            write_janus_config(
                tmp_path / name, api_port=8588, rtp_port_range=rtp_range,
                media_interface=netns.media_interface,
            ),
            ready_timeout=10,
        )
        for name, rtp_range in (("a", "24000-24999"), ("b", "25000-25999"))
    ]
    results = await asyncio.gather(*(s.start() for s in supervisors), return_exceptions=True)
    try:
        winners = [s for s, result in zip(supervisors, results, strict=True) if result is None]
        losers = [(s, r) for s, r in zip(supervisors, results, strict=True) if r is not None]
        assert len(winners) == 1 and len(losers) == 1, results
        [winner], [(loser, error)] = winners, losers
        assert isinstance(error, PortTaken), error
        assert str(error).startswith(
            f"the Janus API port 8588 is in use by janus (pid {winner.pid}); "
            "set MITALK_JANUS_API_PORT"
        )
        # The loser did start a Janus (the race was real) and stopped it again.
        assert (loser.config.folder / "janus.log").exists()
        assert not loser.ready.is_set() and loser.pid is None
        assert winner.pid is not None and process_owns_port(winner.pid, "tcp", 8588)
        client = JanusClient(winner.config.api_url, winner.config.api_secret)
        try:
            assert (await client.info())["janus"] == "server_info"
        finally:
            await client.aclose()
    finally:
        for supervisor in supervisors:
            await supervisor.stop()


async def test_a_janus_whose_port_was_taken_meanwhile_is_retried_in_one_line_until_free(
    netns: Netns, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = write_janus_config(
        tmp_path / "janus", api_port=8788, rtp_port_range="27000-27999",
        media_interface=netns.media_interface,
    )
    supervisor = JanusSupervisor(config, min_backoff=0.5, max_backoff=1.0)
    await supervisor.start()
    squatter = None
    try:
        first_pid = supervisor.pid
        assert first_pid is not None
        caplog.set_level(logging.INFO, logger="mitalk.media.supervisor")
        os.kill(first_pid, signal.SIGKILL)
        # Take the port the moment the dead Janus lets go of it, before the restart.
        async with asyncio.timeout(5):
            while squatter is None:
                with contextlib.suppress(OSError):
                    squatter = listen_tcp("127.0.0.1", 8788)
                await asyncio.sleep(0.005)
        refused = (
            f"janus cannot start: the Janus API port 8788 is in use by {OWN_NAME} "
            f"(pid {os.getpid()}); set MITALK_JANUS_API_PORT to choose another; retrying in"
        )
        async with asyncio.timeout(10):
            while sum(refused in r.getMessage() for r in caplog.records) < 2:
                await asyncio.sleep(0.05)
        # Refused each time in one line, never "ready" on somebody else's port, no traceback.
        assert not supervisor.ready.is_set() and supervisor.generation == 1
        assert all(r.exc_info is None for r in caplog.records)
        assert not [r for r in caplog.records if "janus ready" in r.getMessage()]

        squatter.close()
        squatter = None
        assert await supervisor.wait_ready(timeout=10) == 2
        assert supervisor.pid not in (None, first_pid)
        assert process_owns_port(supervisor.pid, "tcp", 8788)  # type: ignore[arg-type]
    finally:
        if squatter is not None:
            squatter.close()
        await supervisor.stop()
