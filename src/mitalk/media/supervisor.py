"""Run the managed Janus as a child process: start, health-check, restart with backoff, stop.

Why a foreground child rather than ``janus --daemon --pid-file``: the supervisor learns of a
crash the moment it happens (``wait()`` returns) instead of polling a pid that may have been
reused, it can always reap and signal its own child, and Janus dies with the service (parent
death signal) instead of lingering with stale secrets and a bound API port. A pid file is still
written for operators; a Janus left behind anyway (no ``setpriv``) is found at the next start by
the config folder on its command line, and killed.

Rooms and mountpoints live in Janus's memory only, so every (re)start gets a new
``generation`` and the ``on_ready`` callbacks run: that is where the service re-creates them.

"Ready" means *our* Janus answers: before each start the API port and the RTP range are
checked (media/ports.py), and after it the process listening on the API port must be our
child and accept our API secret. A second instance on one host would otherwise see the first
one's Janus answer ``info`` (which needs no secret), report it ready, and fail every call
with 403 while its own Janus exits and restarts in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from mitalk.core.ports import PortTaken, StartupError, holder_of, in_use_by, process_owns_port
from mitalk.core.settings import Settings
from mitalk.media.janus_client import JanusClient, JanusError, JanusUnavailable
from mitalk.media.janus_config import JanusConfig, janus_config_from_settings, lockdown_problems
from mitalk.media.ports import (
    API_PORT_SETTING,
    JanusPorts,
    check_janus_ports,
    kill_leftover_januses,
    resolve_janus_ports,
)

log = logging.getLogger(__name__)

ReadyCallback = Callable[[int], Awaitable[None]]

_LOG_ROTATE_BYTES = 20 * 1024 * 1024


class JanusStartError(StartupError):
    """Janus did not come up (bad binary or config) within the ready timeout."""


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
        folder_lock: int | None = None,
    ) -> None:
        """``folder_lock``: a descriptor with ``lock_janus_folder``'s lock; ``stop`` releases it."""
        self.config = config
        self._folder_lock = folder_lock
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
        self._log_offset = 0  # where this run's lines start in janus.log

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
        if self._folder_lock is not None:
            os.close(self._folder_lock)  # closing the descriptor releases the lock
            self._folder_lock = None

    async def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stopping:
            started_at = time.monotonic()
            try:
                await self._spawn()
                await self._wait_until_answering()
            except (StartupError, OSError) as exc:
                await self._terminate()
                if self._first_start is not None and not self._first_start.done():
                    # The caller decides (the service exits with this one line, or picks
                    # other ports): never "ready" on a port that answers for somebody else.
                    failure = exc if isinstance(exc, StartupError) else JanusStartError(str(exc))
                    self._first_start.set_exception(failure)
                    return
                log.error("janus cannot start: %s; retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue

            self.generation += 1
            self.ready.set()
            log.info(
                "janus ready (pid %s, API port %d, RTP ports %s, generation %d)",
                self.pid,
                self.config.api_port,
                self.config.rtp_port_range,
                self.generation,
            )
            if self._first_start is not None and not self._first_start.done():
                self._first_start.set_result(None)
            self._run_callbacks(self.generation)

            returncode = await self._watch()
            self.ready.clear()
            if self._stopping:
                return
            if time.monotonic() - started_at > self.stable_after:
                backoff = self.min_backoff
            log.error(
                "janus %s%s; restarting in %.1fs (its log: %s)",
                _exit_status(returncode),
                self._fatal_suffix(),
                backoff,
                self.log_path,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff)

    def _fatal_suffix(self) -> str:
        """``": <Janus's last FATAL line>"``, or nothing: why Janus gave up, in its own words."""
        try:
            with self.log_path.open("rb") as log_file:
                # Only what this run wrote: the file keeps earlier runs' lines too.
                log_file.seek(max(self._log_offset, self.log_path.stat().st_size - 16384))
                tail = log_file.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        for line in reversed(tail):
            if "[FATAL]" in line:
                # "[date] [FATAL] [file.c:function:line] message" -> "message"
                return ": " + line.rsplit("] ", 1)[-1].strip()
        return ""

    def _command(self) -> list[str]:
        command = [self.binary, "-F", str(self.config.folder)]
        # Parent death signal: Janus must not outlive the service that holds its secrets.
        setpriv = shutil.which("setpriv")
        return [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command

    async def _spawn(self) -> None:
        self._kill_leftover()
        # Checked before every start, restarts included: the ports may have been taken
        # meanwhile, and a Janus that cannot bind them would exit and be restarted forever.
        check_janus_ports(
            JanusPorts(self.config.api_port, self.config.rtp_port_range), self.config.folder
        )
        if self.log_path.exists() and self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
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
        kill_leftover_januses(self.config.folder)

    async def _wait_until_answering(self) -> None:
        process, probe = self._process, self._probe
        assert process is not None and probe is not None
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if process.returncode is not None:
                self._raise_if_port_taken()
                raise JanusStartError(
                    f"janus {_exit_status(process.returncode)} during start-up"
                    f"{self._fatal_suffix()}; see {self.log_path}"
                )
            try:
                info = await probe.post("", {"janus": "info"}, timeout=1.0)
            except JanusUnavailable:
                await asyncio.sleep(0.05)
                continue
            except JanusError as exc:
                self._raise_if_port_taken()
                raise JanusStartError(f"janus answered {exc}; see {self.log_path}") from exc
            # `info` needs no secret, so any Janus answers it: the one listening must be ours.
            # Our Janus binds the port before it answers, so if it does not hold it now,
            # whoever answered is somebody else (their process may be hidden from us).
            if not process_owns_port(process.pid, "tcp", self.config.api_port):
                holder = holder_of("tcp", self.config.api_port)
                raise PortTaken(
                    f"the Janus API port {self.config.api_port} is {in_use_by(holder)}",
                    API_PORT_SETTING,
                    holder=holder,
                )
            problems = lockdown_problems(info)
            if problems:
                # Janus falls back to its defaults when janus.jcfg does not parse: never
                # leave such an instance running, even for a moment longer.
                raise JanusStartError(
                    f"janus is not running the generated config ({'; '.join(problems)}); "
                    f"see {self.log_path}"
                )
            await self._check_secret(probe)
            return
        raise JanusStartError(
            f"janus did not answer within {self.ready_timeout}s; see {self.log_path}"
        )

    def _raise_if_port_taken(self) -> None:
        """Raise PortTaken if someone other than our child holds the API port."""
        holder = holder_of("tcp", self.config.api_port)
        if holder is not None and holder.pid != self.pid:
            raise PortTaken(
                f"the Janus API port {self.config.api_port} is {in_use_by(holder)}",
                API_PORT_SETTING,
                holder=holder,
            )

    async def _check_secret(self, probe: JanusClient) -> None:
        """Our API secret works: a session can be created (and is destroyed at once)."""
        try:
            reply = await probe.post("", {"janus": "create"}, timeout=2.0)
            await probe.post(f"/{int(reply['data']['id'])}", {"janus": "destroy"}, timeout=2.0)
        except JanusError as exc:
            raise JanusStartError(
                f"janus on port {self.config.api_port} refused our API secret ({exc}); "
                f"see {self.log_path}"
            ) from exc
        except JanusUnavailable as exc:
            raise JanusStartError(f"janus stopped answering during start-up: {exc}") from exc

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
        except (JanusError, JanusUnavailable) as exc:
            # Janus went away again (its restart calls back anew): one line, not a traceback.
            log.error("janus generation %d: setting up after start failed: %s", generation, exc)
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


def _exit_status(returncode: int | None) -> str:
    """``"exited with 1"`` or ``"was killed by SIGKILL"``."""
    if returncode is not None and returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with {returncode}"


def lock_janus_folder(folder: Path) -> int:
    """Lock a managed Janus's folder for this process; StartupError if another service has it.

    Two services on one data dir would each take the other's Janus for a leftover and kill it
    (and share a SQLite file that one process is meant to own): the second one stops instead.
    The lock is an flock, so it goes with the process however it dies.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / "supervisor.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StartupError(
            f"the data dir {folder.parent} is in use by another mitalk serve (pid {owner}) "
            "with its own Janus; give each instance its own MITALK_DATA_DIR"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def managed_janus(settings: Settings) -> JanusSupervisor:
    """The supervisor of the Janus ``mitalk serve`` runs, with a freshly generated config.

    Raises StartupError if another service uses the same data dir. Ports come from the
    settings, checked: an explicit one in use raises PortTaken, a default one in use is
    replaced by a free one (logged).
    """
    folder = settings.ensure_data_dir() / "janus"
    lock = lock_janus_folder(folder)
    try:
        # Ours alone now: a Janus reading this folder is a leftover of an earlier run.
        kill_leftover_januses(folder)
        ports = resolve_janus_ports(settings, folder)
        config = janus_config_from_settings(
            settings, api_port=ports.api_port, rtp_port_range=ports.rtp_port_range
        )
    except BaseException:
        os.close(lock)
        raise
    return JanusSupervisor(config, binary=settings.janus_binary, folder_lock=lock)
