"""The managed coturn is supervised like Janus: restarted when it dies, never two on one port."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

import netlab
from mitalk.core.settings import Settings
from mitalk.media.turn import TurnStartError, TurnSupervisor


async def test_coturn_restarts_after_a_crash_and_refuses_a_taken_port(
    net: netlab.Internet, tmp_path: Path
) -> None:
    server = net.server

    def settings(folder: str) -> Settings:
        return Settings(
            data_dir=tmp_path / folder,
            turn="managed",
            turn_secret="supervisor-test-secret",
            turn_listen=server.second_address,
        )

    async def scenario() -> dict[str, object]:
        seen: dict[str, object] = {}
        supervisor = TurnSupervisor(settings("a"), server.address, min_backoff=0.1)
        await supervisor.start()
        try:
            first = supervisor.pid
            assert first is not None and supervisor.health() == "ok"
            conf = (supervisor.config_path).read_text()
            seen["config_private"] = supervisor.config_path.stat().st_mode & 0o077 == 0
            seen["secret_in_config"] = "static-auth-secret=supervisor-test-secret" in conf
            # A second service on the same port must not start (nor hand out this one's address).
            other = TurnSupervisor(settings("b"), server.address)
            with pytest.raises(TurnStartError, match=r"in use by turnserver \(pid \d+\)"):
                await other.start()
            os.kill(first, signal.SIGKILL)
            for _ in range(200):
                await asyncio.sleep(0.05)
                if supervisor.pid not in (None, first) and supervisor.ready.is_set():
                    break
            seen["restarted"] = supervisor.pid not in (None, first)
            seen["starts"] = supervisor.starts
            seen["health"] = supervisor.health()
            last = supervisor.pid
        finally:
            await supervisor.stop()
        seen["gone"] = last is not None and not Path(f"/proc/{last}").exists()
        seen["health_after_stop"] = supervisor.health()
        return seen

    seen = await server.run(scenario)
    assert seen == {
        "config_private": True,
        "secret_in_config": True,
        "restarted": True,
        "starts": 2,
        "health": "ok",
        "gone": True,
        "health_after_stop": "unreachable: coturn is not running",
    }
