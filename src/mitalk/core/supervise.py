"""Keep one helper program (Caddy, coturn) running as a child of the service.

The same rules as the Janus supervisor (media/supervisor.py), which keeps its own loop because
Janus needs a lockdown check and room re-creation after each start: the child runs in the
foreground, so a crash is seen the moment it happens; it dies with the service (parent death
signal); it is restarted with exponential back-off; its output goes to a log file in the data
dir, rotated once at 20 MB. ``ready`` decides when a (re)started child counts as up;
``explain`` may add why a start failed (e.g. who holds the child's port); ``last_failure`` says
why a child that is being restarted is down (for /healthz and ``mitalk doctor``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

_LOG_ROTATE_BYTES = 20 * 1024 * 1024


class ChildStartError(RuntimeError):
    """The child exited or did not get ready within its timeout on its first start."""


class ChildSupervisor:
    """Start ``command``, wait until ``ready()`` holds, restart it when it exits."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_path: Path,
        ready: Callable[[], Awaitable[bool]],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        ready_timeout: float = 20.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        stable_after: float = 60.0,
        stop_timeout: float = 5.0,
        explain: Callable[[int], str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.log_path = log_path
        self.ready_check = ready
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.ready_timeout = ready_timeout
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.explain = explain
        self.ready = asyncio.Event()
        self.starts = 0
        # Why the child is down while it is being restarted (None: it is up, or never failed).
        self.last_failure: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._runner: asyncio.Task[None] | None = None
        self._first_start: asyncio.Future[None] | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """Pid of the running child, if any."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def start(self) -> None:
        """Start the child and return once it is ready; raise ChildStartError otherwise."""
        if self._runner is not None:
            raise RuntimeError(f"{self.name} supervisor already started")
        self._stopping = False
        self._first_start = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(), name=f"{self.name}-supervisor")
        try:
            await self._first_start
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``stop_timeout``) and its supervision."""
        self._stopping = True
        self.ready.clear()
        await self._terminate()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the child's log (for error messages)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _full_command(self) -> list[str]:
        # Parent death signal: the child must not outlive the service (ports, secrets).
        setpriv = shutil.which("setpriv")
        return [setpriv, "--pdeathsig", "TERM", "--", *self.command] if setpriv else self.command

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopping:
            started_at = time.monotonic()
            try:
                await self._spawn()
                await self._wait_ready()
            except (ChildStartError, OSError) as exc:
                await self._terminate()
                if self._first_start is not None and not self._first_start.done():
                    self._first_start.set_exception(ChildStartError(str(exc)))
                    return
                self.last_failure = f"it failed to start: {exc}"
                log.error("%s failed to start: %s; retrying in %.1fs", self.name, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            self.starts += 1
            self.last_failure = None
            self.ready.set()
            log.info("%s ready (pid %s)", self.name, self.pid)
            if self._first_start is not None and not self._first_start.done():
                self._first_start.set_result(None)
            assert self._process is not None
            returncode = await self._process.wait()
            self.ready.clear()
            if self._stopping:
                return
            if time.monotonic() - started_at > self.stable_after:
                backoff = self.min_backoff
            self.last_failure = f"it exited with {returncode}"
            log.error("%s exited with %s; restarting in %.1fs", self.name, returncode, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    async def _spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        with open(self.log_path, "ab") as log_file:  # noqa: ASYNC230 - a local file, opened once
            self._process = await asyncio.create_subprocess_exec(
                *self._full_command(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                # Its own session: a terminal's Ctrl-C reaches the service, which stops it in order.
                start_new_session=True,
                env=self.env,
                cwd=self.cwd,
            )

    async def _wait_ready(self) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise ChildStartError(
                    f"{self.name} exited with {process.returncode} during start-up"
                    f"{self._explained(process.pid)}; see {self.log_path}:\n{self.log_tail()}"
                )
            if await self.ready_check():
                return
            await asyncio.sleep(0.1)
        raise ChildStartError(
            f"{self.name} was not ready within {self.ready_timeout:g} s"
            f"{self._explained(process.pid)}; see {self.log_path}:\n{self.log_tail()}"
        )

    def _explained(self, pid: int) -> str:
        return self.explain(pid) if self.explain is not None else ""

    async def _terminate(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), self.stop_timeout)
        except TimeoutError:
            log.warning("%s ignored SIGTERM for %.1fs; killing it", self.name, self.stop_timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
