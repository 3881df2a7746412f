"""/healthz with a managed coturn: 200 while it runs, 503 and why while it is down, 200 again.

A real `mitalk serve` (managed Janus, managed coturn) in the media test namespace. coturn is
killed and its TCP port taken by the test before the supervisor can restart it, so it stays
down for as long as the test holds the port: long enough to read /healthz, never a race.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from live import live_server, run_cli
from mitalk.core.ports import listen_tcp, process_owns_port

from .conftest import Netns
from .served import JANUS_API_PORT, RTP_PORT_RANGE

TURN_PORT = 3578  # not coturn's default: nothing else in the namespace may hold it


@pytest.fixture(scope="module")
def served_with_turn(
    netns: Netns, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`mitalk serve` with MITALK_TURN=managed, coturn listening on the media address."""
    data = tmp_path_factory.mktemp("turn-health") / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    with live_server(
        data,
        MITALK_MEDIA="managed",
        MITALK_JANUS_API_PORT=str(JANUS_API_PORT),
        MITALK_JANUS_RTP_PORT_RANGE=RTP_PORT_RANGE,
        MITALK_TURN="managed",
        MITALK_TURN_LISTEN=netns.media_address,
        MITALK_TURN_PORT=str(TURN_PORT),
    ) as base:
        yield base, data


async def _health(base: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{base}/healthz", timeout=10)
    return answer.status_code, answer.json()


async def _until(base: str, ok: Any, seconds: float = 90) -> tuple[int, dict[str, Any]]:
    """Poll /healthz until ``ok(status, body)``; the last answer either way."""
    deadline = time.monotonic() + seconds
    while True:
        status, body = await _health(base)
        if ok(status, body) or time.monotonic() > deadline:
            return status, body
        await asyncio.sleep(0.2)


def _coturn_pid(data: Path) -> int:
    return int((data / "turn" / "turnserver.pid").read_text().strip())


def _kill_and_take_the_port(data: Path, address: str) -> socket.socket:
    """SIGKILL coturn and listen on its TCP port before the supervisor restarts it.

    The supervisor waits its back-off (0.5 s) before a restart; should a restart win anyway
    under load, the new coturn is killed too and the port tried again.
    """
    for _ in range(20):
        pid = _coturn_pid(data)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        try:
            return listen_tcp(address, TURN_PORT)
        except OSError:
            # A restarted coturn took it first: wait until it owns the port, then again.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                new = _coturn_pid(data)
                if new != pid and process_owns_port(new, "tcp", TURN_PORT):
                    break
                time.sleep(0.05)
    raise AssertionError("could not take coturn's port while it was down")


async def test_healthz_answers_503_with_the_reason_while_managed_turn_is_down(
    netns: Netns, served_with_turn: tuple[str, Path]
) -> None:
    base, data = served_with_turn
    status, body = await _health(base)
    assert status == 200 and body["checks"]["turn"] == "ok", body

    taken = _kill_and_take_the_port(data, netns.media_address)
    try:
        # Down: 503, the check says coturn is not running, the error says TURN is the reason.
        status, body = await _until(base, lambda s, _: s == 503)
        assert status == 503, body
        assert body["status"] == "unavailable"
        assert body["checks"]["database"] == "ok" and body["checks"]["media"] == "ok"
        assert body["checks"]["turn"].startswith("unreachable: coturn is not running"), body
        assert body["error"]["code"] == "unavailable"
        assert body["error"]["message"].startswith("turn unreachable: coturn is not running")
        # Once a restart has failed, the reason names who holds coturn's port.
        status, body = await _until(base, lambda _, b: "in use by" in b["checks"]["turn"])
        assert status == 503, body
        assert f"TCP port {TURN_PORT} in use by " in body["checks"]["turn"], body
        assert f"(pid {os.getpid()})" in body["checks"]["turn"], body  # this test holds it
    finally:
        taken.close()
    # The port free again, the supervisor's next restart brings coturn (and 200) back.
    status, body = await _until(base, lambda s, _: s == 200)
    assert status == 200 and body["checks"]["turn"] == "ok", body
