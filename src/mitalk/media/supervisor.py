"""Run the managed Janus as a child process: start, health-check, restart with backoff, stop.

Why a foreground child rather than ``janus --daemon --pid-file``: the supervisor learns of a
crash the moment it happens (``wait()`` returns) instead of polling a pid that may have been
reused, it can always reap and signal its own child, and Janus dies with the service (parent
death signal) instead of lingering with stale secrets and a bound API port. A pid file is still
written, but only so that a service killed with SIGKILL can clean up the Janus it left behind.

Rooms and mountpoints live in Janus's memory only, so every (re)start gets a new
``generation`` and the ``on_ready`` callbacks run: that is where the service re-creates them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from mitalk.core.settings import Settings
from mitalk.media.janus_client import JanusClient, JanusError, JanusUnavailable
from mitalk.media.janus_config import JanusConfig, janus_config_from_settings, lockdown_problems

log = logging.getLogger(__name__)

ReadyCallback = Callable[[int], Awaitable[None]]

_LOG_ROTATE_BYTES = 20 * 1024 * 1024


class JanusStartError(RuntimeError):
    """Janus did not come up (bad binary or config, port taken) within the ready timeout."""


class JanusSupervisor:
    """Keeps one Janus process alive for a generated config; see the module docstring."""

    def __init__(
        self,
        config: JanusConfig,
        *,
        binary: str = "janus",
        ready_timeout: float = 15.0,
        min_backoff: float = 0.2,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
        health_interval: float = 5.0,
        health_failures: int = 3,
        stop_timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.health_interval = health_interval
        self.health_failures = health_failures
        self.stop_timeout = stop_timeout
        self.generation = 0
        self.ready = asyncio.Event()
        self.log_path = config.folder / "janus.log"
        self.pid_path = config.folder / "janus.pid"
        self._callbacks: list[ReadyCallback] = []
        self._process: asyncio.subprocess.Process | None = None
        self._runner: asyncio.Task[None] | None = None
        self._callback_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._first_start: asyncio.Future[None] | None = None
        self._probe: JanusClient | None = None

    @property
    def pid(self) -> int | None:
        """Pid of the running Janus, if any."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def on_ready(self, callback: ReadyCallback) -> None:
        """Call ``callback(generation)`` each time a (re)started Janus answers its API."""
        self._callbacks.append(callback)

    async def start(self) -> None:
        """Start Janus and return once it answers ``info``; raise JanusStartError otherwise."""
        if self._runner is not None:
            raise RuntimeError("supervisor already started")
        self._stopping = False
        self._probe = JanusClient(self.config.api_url, self.config.api_secret)
        self._first_start = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(), name="janus-supervisor")
        try:
            await self._first_start
        except BaseException:
            await self.stop()
            raise

    async def wait_ready(self, timeout: float = 30.0) -> int:
        """Wait until Janus answers (e.g. after a restart) and return its generation."""
        await asyncio.wait_for(self.ready.wait(), timeout)
        return self.generation

    async def stop(self) -> None:
        """Stop Janus (SIGTERM, then SIGKILL after ``stop_timeout``) and the supervision task."""
        self._stopping = True
        self.ready.clear()
        await self._terminate()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        for task in list(self._callback_tasks):
            task.cancel()
        if self._probe is not None:
            await self._probe.aclose()
            self._probe = None
        self.pid_path.unlink(missing_ok=True)

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopping:
            started_at = time.monotonic()
            try:
                await self._spawn()
                await self._wait_until_answering()
            except (JanusStartError, OSError) as exc:
                await self._terminate()
                if self._first_start is not None and not self._first_start.done():
                    self._first_start.set_exception(JanusStartError(str(exc)))
                    return
                log.error("janus failed to start: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue

            self.generation += 1
            self.ready.set()
            log.info("janus ready (pid %s, generation %d)", self.pid, self.generation)
            if self._first_start is not None and not self._first_start.done():
                self._first_start.set_result(None)
            self._run_callbacks(self.generation)

            returncode = await self._watch()
            self.ready.clear()
            if self._stopping:
                return
            if time.monotonic() - started_at > self.stable_after:
                backoff = self.min_backoff
            log.error("janus exited with %s; restarting in %.1fs", returncode, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def _command(self) -> list[str]:
        command = [self.binary, "-F", str(self.config.folder)]
        # Parent death signal: Janus must not outlive the service that holds its secrets.
        setpriv = shutil.which("setpriv")
        return [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command

    async def _spawn(self) -> None:
        self._kill_leftover()
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        # Opening a local log file is quick; the child keeps its own copy of the descriptor.
        with open(self.log_path, "ab") as log_file:  # noqa: ASYNC230
            # A new session: a terminal's Ctrl-C reaches the service, which then stops Janus
            # in order, rather than killing Janus first and looking like a crash.
            self._process = await asyncio.create_subprocess_exec(
                *self._command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                # Its own folder as working directory: a core dump must not land in the
                # service's working directory (e.g. a source checkout).
                cwd=self.config.folder,
            )
        self.pid_path.write_text(f"{self._process.pid}\n")

    def _kill_leftover(self) -> None:
        """Kill a Janus left by a previous service run on the same config folder."""
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.config.folder).encode() not in cmdline:
            return  # The pid was reused by something else.
        log.warning("killing leftover janus (pid %d) from a previous run", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    async def _wait_until_answering(self) -> None:
        process, probe = self._process, self._probe
        assert process is not None and probe is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise JanusStartError(
                    f"janus exited with {process.returncode} during start-up; see {self.log_path}"
                )
            try:
                info = await probe.post("", {"janus": "info"}, timeout=1.0)
            except JanusUnavailable:
                await asyncio.sleep(0.05)
            except JanusError as exc:
                # Something answers, but not with our secret: another Janus holds the port.
                raise JanusStartError(f"port {self.config.api_url} answered {exc}") from exc
            else:
                problems = lockdown_problems(info)
                if problems:
                    # Janus falls back to its defaults when janus.jcfg does not parse: never
                    # leave such an instance running, even for a moment longer.
                    raise JanusStartError(
                        f"janus is not running the generated config ({'; '.join(problems)}); "
                        f"see {self.log_path}"
                    )
                return
        raise JanusStartError(f"janus did not answer within {self.ready_timeout}s")

    async def _watch(self) -> int | None:
        """Return when Janus exits; kill it if it stops answering (a hung Janus is a dead one)."""
        process, probe = self._process, self._probe
        assert process is not None and probe is not None
        exited = asyncio.ensure_future(process.wait())
        failures = 0
        while True:
            await asyncio.wait({exited}, timeout=self.health_interval)
            if exited.done():
                return exited.result()
            try:
                await probe.post("", {"janus": "info"}, timeout=2.0)
                failures = 0
            except (JanusUnavailable, JanusError) as exc:
                failures += 1
                log.warning("janus health check failed (%d): %s", failures, exc)
                if failures >= self.health_failures:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()

    def _run_callbacks(self, generation: int) -> None:
        # As tasks: the watch loop must notice a crash even while rooms are being re-created.
        for callback in self._callbacks:
            task = asyncio.create_task(self._call(callback, generation))
            self._callback_tasks.add(task)
            task.add_done_callback(self._callback_tasks.discard)

    async def _call(self, callback: ReadyCallback, generation: int) -> None:
        try:
            await callback(generation)
        except Exception:
            log.exception("janus on_ready callback failed (generation %d)", generation)

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), self.stop_timeout)
        except TimeoutError:
            log.warning("janus ignored SIGTERM for %.1fs; killing it", self.stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def managed_janus(settings: Settings) -> JanusSupervisor:
    """The supervisor of the Janus ``mitalk serve`` runs, with a freshly generated config."""
    return JanusSupervisor(janus_config_from_settings(settings), binary=settings.janus_binary)
