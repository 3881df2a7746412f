"""Fixtures for media tests: a private network namespace and a real Janus inside it.

How the namespace is used: the fixture creates it with scripts/netns.sh (veth pair
mt0 10.99.0.1 <-> mt1 10.99.0.2, both ends inside, lo up, default route on mt0) and then moves
*the test process's main thread* into it with setns(2). Everything the tests start from that
thread is inside too: the Janus child process, the sockets of httpx and of aiortc's ICE (the
event loop runs on the main thread), and interface discovery. Audio therefore only ever flows
between two addresses of the namespace, never via the machine's outward-facing address.

The fixtures are package-scoped (tests/media has an __init__.py for that) so the main thread
leaves the namespace again after the last media test: other test packages (databases on the
host's loopback) run in the host namespace. Threads created earlier stay where they were,
which is harmless: none of them opens sockets for these tests.

Missing `ip`, `janus`, or the right to create namespaces fails the tests: never skipped.
"""

from __future__ import annotations

import ctypes
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mitalk.core.settings import Settings
from mitalk.media.janus_client import JanusClient
from mitalk.media.janus_config import JanusConfig
from mitalk.media.stage import StageManager
from mitalk.media.supervisor import JanusSupervisor, managed_janus

NETNS_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "netns.sh"
NETNS_PREFIX = "mitalk-test-"
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def _run(*command: str) -> None:
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed: {result.stderr.strip()}", pytrace=False)


def _remove_stale_namespaces() -> None:
    """Delete namespaces left by earlier test runs whose process is gone (e.g. SIGKILLed)."""
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        match = re.fullmatch(rf"{NETNS_PREFIX}(\d+)-\w+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@dataclass(frozen=True)
class Netns:
    """The test namespace: its name and the veth end Janus offers media on."""

    name: str
    media_interface: str = "mt0"
    media_address: str = "10.99.0.1"

    def is_current(self) -> bool:
        """Whether the calling thread is inside this namespace."""
        here = os.stat("/proc/thread-self/ns/net").st_ino
        return here == os.stat(f"/run/netns/{self.name}").st_ino


@contextmanager
def new_namespace() -> Iterator[Netns]:
    """A fresh namespace with the main thread moved into it; moved back and deleted after."""
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("the test namespace must be entered on the main thread")
    namespace = Netns(name=f"{NETNS_PREFIX}{os.getpid()}-{secrets.token_hex(3)}")
    _run("bash", str(NETNS_SCRIPT), "up", namespace.name)
    back_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(f"/run/netns/{namespace.name}")
        yield namespace
    finally:
        if _libc.setns(back_fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "could not return to the previous network namespace")
        os.close(back_fd)
        _run("bash", str(NETNS_SCRIPT), "down", namespace.name)


@pytest.fixture(scope="package")
def netns() -> Iterator[Netns]:
    """A fresh namespace for this test run, with the main thread moved into it."""
    for tool in ("ip", "ss", "janus"):
        if shutil.which(tool) is None:
            pytest.fail(f"media tests need `{tool}` on PATH (apt-get install iproute2 janus)")
    _remove_stale_namespaces()
    with new_namespace() as namespace:
        yield namespace


@pytest.fixture(autouse=True)
def _inside_netns(netns: Netns) -> None:
    """Every media test runs inside the namespace: fail rather than send media elsewhere."""
    assert netns.is_current(), "media test is not running inside the test network namespace"


@pytest.fixture(scope="package")
def media_settings(netns: Netns, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the managed Janus: media interface left to auto-detection (the route)."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("media-data"),
        media_interface=None,
        janus_api_port=8188,
        janus_rtp_port_range="20000-20999",
    )


@pytest.fixture(scope="package")
async def janus(media_settings: Settings) -> AsyncIterator[JanusSupervisor]:
    """The Janus `mitalk serve` would run, supervised, in the namespace for all media tests."""
    supervisor = managed_janus(media_settings)
    await supervisor.start()
    yield supervisor
    await supervisor.stop()


@pytest.fixture(scope="package")
def janus_config(janus: JanusSupervisor) -> JanusConfig:
    """The generated, locked-down config the running Janus uses."""
    return janus.config


@pytest.fixture(scope="package")
async def janus_client(janus: JanusSupervisor) -> AsyncIterator[JanusClient]:
    """A client with the API secret of the running Janus."""
    client = JanusClient(janus.config.api_url, janus.config.api_secret)
    yield client
    await client.aclose()


@pytest.fixture(scope="package")
async def stages(
    janus_client: JanusClient, janus_config: JanusConfig, media_settings: Settings
) -> AsyncIterator[StageManager]:
    """The stage manager the room service would use."""
    manager = StageManager.from_config(
        janus_client, janus_config, secret_key=media_settings.resolved_secret_key
    )
    yield manager
    await manager.close()
