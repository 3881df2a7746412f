"""The supervisor of helper programs (Caddy, coturn): why a child is down, why a start failed."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from mitalk.core.supervise import ChildStartError, ChildSupervisor


async def test_a_failed_first_start_says_why_with_the_explanation_and_the_log(
    tmp_path: Path,
) -> None:
    child = ChildSupervisor(
        "helper",
        [sys.executable, "-c", "print('bad config line 3'); raise SystemExit(3)"],
        log_path=tmp_path / "helper.log",
        ready=lambda: asyncio.sleep(0, result=False),
        explain=lambda pid: f" (port 9 in use by someone, not pid {pid})",
    )
    with pytest.raises(ChildStartError) as raised:
        await child.start()
    message = str(raised.value)
    assert "helper exited with 3 during start-up (port 9 in use by someone, not pid" in message
    assert "bad config line 3" in message
    assert child.pid is None and not child.ready.is_set()


async def test_a_crashed_child_is_restarted_and_says_why_it_was_down(tmp_path: Path) -> None:
    child = ChildSupervisor(
        "helper",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_path=tmp_path / "helper.log",
        ready=lambda: asyncio.sleep(0, result=True),
        min_backoff=0.3,
    )
    await child.start()
    try:
        first = child.pid
        assert first is not None and child.last_failure is None and child.starts == 1
        os.kill(first, signal.SIGKILL)
        while child.ready.is_set():
            await asyncio.sleep(0.01)
        assert child.last_failure == "it exited with -9"  # while it waits out the back-off
        await asyncio.wait_for(child.ready.wait(), 10)
        assert child.pid not in (None, first)
        assert child.last_failure is None and child.starts == 2
    finally:
        await child.stop()
    assert child.pid is None
