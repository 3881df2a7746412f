"""Two `mitalk serve` on one host, each with every port setting at its default.

Before: the second one's Janus exited at once (its API port was taken), the first one's Janus
answered `info` in its place, the supervisor said "janus ready", every call then failed with
403, and the service restarted its Janus in a loop with a traceback per call. Now the second
one picks free ports and says which, and both carry audio; a port set explicitly and in use
stops the start with one line naming it and the setting.

This module runs in a namespace of its own (not the package's, whose Janus holds 8188): both
instances really start from the defaults, HTTP port 8000 and Janus port 8188 included.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from live import MITALK, mitalk_env, run_cli
from mitalk.core.ports import overlaps, processes
from mitalk.media.ports import other_januses, parse_range
from mitalk.media.roombot import RoomBot

from .conftest import Netns, new_namespace
from .served import Person, Served, hears_tone, until

A_HZ, B_HZ = 440.0, 880.0
START_TIMEOUT = 90.0  # import, migrate and start Janus on a loaded 2-core machine
JANUS_READY = re.compile(r"janus ready \(pid \d+, API port (\d+), RTP ports (\S+),")
TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[")


@pytest.fixture(scope="module")
def netns(netns: Netns) -> Iterator[Netns]:
    """This module's own namespace, entered from the package's and left back to it."""
    with new_namespace() as namespace:
        yield namespace


@dataclass
class Instance:
    """One `mitalk serve` started as an operator would, in a working directory of its own."""

    name: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    @property
    def url(self) -> str | None:
        match = re.search(r"mitalk serving (http://\S+) \(data dir (\S+),", self.log)
        return match.group(1) if match else None

    @property
    def janus_ready(self) -> list[tuple[int, str]]:
        """(API port, RTP range) of every "janus ready" line."""
        return [
            (int(port), rtp)
            for port, rtp in re.findall(JANUS_READY, self.log)
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


Instances = tuple[Served, Served, Instance, Instance]  # first, second; as served and as run


def launch(root: Path, name: str, data_dir: Path | None = None, **extra: str) -> Instance:
    """`mitalk serve` with no port settings (unless ``extra`` has some) and a managed Janus."""
    workdir = root / name
    workdir.mkdir()
    data_dir = data_dir or workdir / "var"
    assert run_cli(data_dir, "admin", "phase", "open").returncode == 0
    log_path = workdir / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*MITALK, "serve"],
            cwd=workdir,
            env=mitalk_env(data_dir, MITALK_MEDIA="managed", **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Instance(name, data_dir, log_path, process)


def wait_serving(instance: Instance) -> str:
    """Its URL once /healthz says every check is ok; fails if it exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert instance.process.poll() is None, f"{instance.name} exited:\n{instance.log[-3000:]}"
        url = instance.url
        if url is not None:
            try:
                health = httpx.get(f"{url}/healthz", timeout=2, trust_env=False)
                if health.status_code == 200:
                    assert health.json()["checks"] == {"database": "ok", "media": "ok"}
                    return url
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError(
        f"{instance.name} not serving in {START_TIMEOUT}s:\n{instance.log[-3000:]}"
    )


def wait_exit(instance: Instance) -> int:
    """Its exit status; fails if it is still running after the start timeout (a restart loop)."""
    try:
        return instance.process.wait(START_TIMEOUT)
    except subprocess.TimeoutExpired:
        instance.stop()
        raise AssertionError(f"{instance.name} kept running:\n{instance.log[-3000:]}") from None


@pytest.fixture(scope="module")
def instances(netns: Netns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    """The first instance, then a second one beside it, both with default settings."""
    root = tmp_path_factory.mktemp("instances")
    first = launch(root, "first")
    second: Instance | None = None
    try:
        first_url = wait_serving(first)
        second = launch(root, "second")
        second_url = wait_serving(second)
        yield Served(first_url, first.data_dir), Served(second_url, second.data_dir), first, second
    finally:
        for instance in (second, first):
            if instance is not None:
                instance.stop()
    # Nothing they started outlives them.
    assert not processes(["janus"]), "a Janus outlived its service"


@dataclass
class LiveRoom:
    """A room with its host speaking a tone and a guest listening."""

    served: Served
    id: str
    host: Person
    speaker: RoomBot
    listener: RoomBot

    async def end(self) -> None:
        ended = await self.served.call(self.host, "POST", f"/rooms/{self.id}/end")
        assert ended.status_code == 204, ended.text
        await until(
            lambda: self.listener.gone.is_set() and self.speaker.gone.is_set(), what="room.ended"
        )


@asynccontextmanager
async def live_room(served: Served, hz: float) -> AsyncIterator[LiveRoom]:
    """Create a room; its host speaks ``hz``, a guest joins to listen; the bots close after."""
    host, guest = await served.person(), await served.person()
    room_id = await served.open_room(host)
    room = LiveRoom(
        served, room_id, host,
        speaker=served.bot(host, room_id, hz, unmute_on_stage=True),
        listener=served.bot(guest, room_id),
    )
    try:
        await room.speaker.start()
        await room.listener.start()
        assert room.listener.role == "listener"
        yield room
    finally:
        await room.speaker.close()
        await room.listener.close()


async def test_second_instance_with_default_settings_runs_on_free_ports_and_both_carry_audio(
    instances: Instances,
) -> None:
    first_served, second_served, first, second = instances
    assert first_served.base == "http://127.0.0.1:8000"
    assert first.janus_ready == [(8188, "20000-40000")]

    # The second says which ports it took instead of the taken defaults ...
    assert second_served.base != first_served.base
    first_janus = int((first.data_dir / "janus" / "janus.pid").read_text())
    assert f"port 8000 on 127.0.0.1 is in use by python (pid {first.process.pid})" in second.log
    assert f"the Janus API port 8188 is in use by janus (pid {first_janus})" in second.log
    assert "using " in second.log and "(set MITALK_JANUS_RTP_PORT_RANGE to choose)" in second.log
    [(api_port, rtp)] = second.janus_ready
    assert api_port != 8188
    assert not overlaps(parse_range(rtp), (20000, 40000))
    # ... and its Janus is its own: two Januses here, each reading its own folder.
    folders = {other.folder for other in other_januses(Path("/nonexistent"))}
    assert folders == {first.data_dir / "janus", second.data_dir / "janus"}

    # Both carry audio at the same time, each room its own tone.
    async with live_room(first_served, A_HZ) as a, live_room(second_served, B_HZ) as b:
        await hears_tone(a.listener, A_HZ)
        await hears_tone(b.listener, B_HZ)
        await a.end()
        await b.end()

    # Never a restart loop: each Janus started once and nothing failed.
    for instance in (first, second):
        assert len(instance.janus_ready) == 1, instance.log
        assert "restarting" not in instance.log
        assert "[error" not in instance.log, instance.log


@pytest.mark.parametrize(
    ("setting", "value", "problem"),
    [
        (
            "MITALK_JANUS_API_PORT",
            "8188",
            "the Janus API port 8188 is in use by janus (pid {janus})",
        ),
        (
            "MITALK_JANUS_RTP_PORT_RANGE",
            "30000-30999",
            "the Janus RTP ports 30000-30999 overlap the ports 20000-40000 of janus pid {janus}",
        ),
        ("MITALK_PORT", "8000", "port 8000 on 127.0.0.1 is in use by python (pid {serve})"),
    ],
)
def test_a_port_set_explicitly_and_in_use_is_one_line_and_a_non_zero_exit(
    instances: Instances,
    tmp_path: Path,
    setting: str,
    value: str,
    problem: str,
) -> None:
    first_served, second_served, first, _ = instances
    janus = int((first.data_dir / "janus" / "janus.pid").read_text())
    third = launch(tmp_path, "third", **{setting: value})
    status = wait_exit(third)
    assert status != 0
    errors = [
        line for line in third.log.splitlines() if line.startswith("error: ") or "[error" in line
    ]
    assert len(errors) == 1, third.log
    [error] = errors
    assert problem.format(janus=janus, serve=first.process.pid) in error
    assert f"set {setting}" in error
    assert "Traceback" not in third.log
    assert "janus ready" not in third.log
    # It started no Janus of its own, and the first two are untouched.
    assert not [p for p in processes(["janus"]) if str(third.data_dir) in " ".join(p.argv)]
    for served in (first_served, second_served):
        assert httpx.get(f"{served.base}/healthz", timeout=5, trust_env=False).status_code == 200


def test_a_second_instance_on_the_same_data_dir_stops_in_one_line(
    instances: Instances, tmp_path: Path
) -> None:
    # Before, it would have killed the first one's Janus as a "leftover" of its own, and the
    # first one's restart would have killed the second's in turn.
    first_served, _, first, _ = instances
    janus_pid = (first.data_dir / "janus" / "janus.pid").read_text()
    again = launch(tmp_path, "again", data_dir=first.data_dir)
    assert wait_exit(again) != 0
    errors = [line for line in again.log.splitlines() if "[error" in line]
    assert len(errors) == 1, again.log
    assert errors[0].endswith(
        f"the data dir {first.data_dir} is in use by another mitalk serve "
        f"(pid {first.process.pid}) with its own Janus; give each instance its own MITALK_DATA_DIR"
    )
    assert "Traceback" not in again.log and "janus ready" not in again.log
    assert (first.data_dir / "janus" / "janus.pid").read_text() == janus_pid
    assert httpx.get(f"{first_served.base}/healthz", timeout=5, trust_env=False).status_code == 200


async def test_default_log_of_a_room_life_is_one_line_per_event(
    instances: Instances,
) -> None:
    first_served, _, first, _ = instances
    # Its whole life: create, join, speak (and be heard), end.
    async with live_room(first_served, A_HZ) as room:
        await hears_tone(room.listener, A_HZ)
        await room.end()
    room_id = room.id
    await until(lambda: f"room {room_id} ended" in first.log, what="the room's end in the log")

    log = first.log
    lines = log.splitlines()
    # Every line is one event: a timestamp, a level, one line of text (no tracebacks).
    assert all(TIMESTAMPED.match(line) for line in lines), log
    assert "Traceback" not in log
    # No HTTP client lines: the Janus API's traffic is at debug.
    assert "HTTP Request" not in log and "httpx" not in log
    # What an operator needs, in order.
    wanted = [
        "janus ready (pid ",
        (
            f"mitalk serving http://127.0.0.1:8000 (data dir {first.data_dir}, SQLite database, "
            "media managed)"
        ),
        f"room {room_id} is live: its stage is ready",
        f"room {room_id} ended: its stage is gone",
    ]
    positions = [next((i for i, line in enumerate(lines) if want in line), -1) for want in wanted]
    assert -1 not in positions and positions == sorted(positions), (wanted, positions, log)
    # Each sign-in's text message is printed by the console sender (that is how codes are
    # read here); apart from those, a room's whole life is two lines.
    about_room = [line for line in lines if room_id in line]
    assert len(about_room) == 2, about_room
