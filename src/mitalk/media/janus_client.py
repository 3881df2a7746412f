"""A thin async client for the Janus HTTP API (sessions, plugin handles, messages, events).

Only the Mi Talk service talks to Janus: clients never get a handle (a participant muted by a
moderator could unmute itself through Janus otherwise, see shared/JANUS-NOTES.md).

Janus answers a plugin message either at once (``success`` with ``plugindata``) or with an
``ack`` followed later by an ``event`` carrying the same transaction; events reach HTTP clients
only through a long-poll ``GET /janus/<session>``. Each session therefore runs two tasks: the
long poll, which resolves waiting requests by transaction and queues everything else on the
handle it is addressed to, and a keepalive faster than Janus's ``session_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import httpx

log = logging.getLogger(__name__)

Json = dict[str, Any]

# Janus holds a long poll for 30 s before answering with a keepalive; wait a little longer.
_LONG_POLL_SECONDS = 30.0
_POLL_FAILURES_BEFORE_LOST = 3
_HANDLE_QUEUE_SIZE = 1000


class JanusError(Exception):
    """Janus refused a request; ``code`` is Janus's own error code (e.g. 403, 458, 485)."""

    def __init__(self, code: int, reason: str, *, plugin: str | None = None) -> None:
        where = f"{plugin}: " if plugin else ""
        super().__init__(f"{where}Janus error {code}: {reason}")
        self.code = code
        self.reason = reason
        self.plugin = plugin


class JanusPluginError(JanusError):
    """A plugin (AudioBridge, Streaming) answered with ``error_code``."""


class JanusUnavailable(Exception):
    """Janus could not be reached, or the session was lost (Janus restarted or timed it out)."""


# Janus core error codes the caller may want to branch on.
NO_SUCH_SESSION = 458
NO_SUCH_HANDLE = 459
UNAUTHORIZED = 403


@dataclass
class JanusEvent:
    """What Janus pushed about a handle: plugin data and/or a JSEP, or a core event."""

    kind: str  # "event", "webrtcup", "media", "hangup", "slowlink", "detached", ...
    data: Json = field(default_factory=dict)
    jsep: Json | None = None
    raw: Json = field(default_factory=dict)


def _transaction() -> str:
    return secrets.token_hex(8)


def _raise_for_janus_error(reply: Json) -> None:
    if reply.get("janus") == "error":
        error = reply.get("error") or {}
        raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown")))


def _plugin_data(reply: Json) -> tuple[str | None, Json]:
    plugindata = reply.get("plugindata") or {}
    data = plugindata.get("data") or {}
    plugin = plugindata.get("plugin")
    if "error_code" in data:
        raise JanusPluginError(int(data["error_code"]), str(data.get("error", "")), plugin=plugin)
    return plugin, data


class JanusClient:
    """Entry point: one per Janus node; creates sessions that share one HTTP connection pool."""

    def __init__(
        self,
        api_url: str,
        api_secret: str,
        *,
        request_timeout: float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_secret = api_secret
        self.request_timeout = request_timeout
        # trust_env=False: a proxy from the environment must never see the API secret.
        self._http = http or httpx.AsyncClient(trust_env=False)
        self._owns_http = http is None

    async def aclose(self) -> None:
        """Close the HTTP connection pool (sessions should be destroyed first)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def post(self, path: str, payload: Json, *, timeout: float | None = None) -> Json:
        """POST one Janus API request (secret and transaction added); raise on Janus errors."""
        body = {"transaction": _transaction(), **payload, "apisecret": self.api_secret}
        reply = await self._send("POST", path, json=body, timeout=timeout)
        if not isinstance(reply, dict):
            raise JanusUnavailable(f"unexpected Janus reply: {reply!r:.200}")
        _raise_for_janus_error(reply)
        return reply

    async def _send(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        url = self.api_url + path
        try:
            response = await self._http.request(
                method, url, timeout=timeout or self.request_timeout, **kwargs
            )
        except httpx.TransportError as exc:
            raise JanusUnavailable(f"Janus API at {self.api_url} unreachable: {exc!r}") from exc
        if response.status_code != 200:
            raise JanusUnavailable(f"Janus API answered HTTP {response.status_code}")
        return response.json()

    async def info(self) -> Json:
        """The server's ``info`` (version, plugins, transports); also a liveness probe."""
        return await self.post("", {"janus": "info"})

    async def create_session(self, *, keepalive_interval: float = 15.0) -> JanusSession:
        """Create a session and start its event long-poll and keepalive tasks."""
        reply = await self.post("", {"janus": "create"})
        session = JanusSession(self, int(reply["data"]["id"]), keepalive_interval)
        session.start()
        return session


class JanusSession:
    """One Janus session: attach handles, route events, keep it alive until destroyed."""

    def __init__(self, client: JanusClient, session_id: int, keepalive_interval: float) -> None:
        self.client = client
        self.id = session_id
        self.keepalive_interval = keepalive_interval
        self.handles: dict[int, JanusHandle] = {}
        self.lost = asyncio.Event()
        self._pending: dict[str, asyncio.Future[Json]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the long poll and keepalive tasks (done by ``create_session``)."""
        self._tasks = [
            asyncio.create_task(self._poll_events(), name=f"janus-poll-{self.id}"),
            asyncio.create_task(self._keepalive(), name=f"janus-keepalive-{self.id}"),
        ]

    async def attach(self, plugin: str) -> JanusHandle:
        """Attach a handle to ``plugin`` (e.g. ``janus.plugin.audiobridge``)."""
        reply = await self._post({"janus": "attach", "plugin": plugin})
        handle = JanusHandle(self, int(reply["data"]["id"]), plugin)
        self.handles[handle.id] = handle
        return handle

    async def destroy(self) -> None:
        """Destroy the session in Janus (detaching its handles) and stop its tasks."""
        try:
            if not self.lost.is_set():
                await self._post({"janus": "destroy"})
        except (JanusError, JanusUnavailable) as exc:
            log.info("janus session %s already gone: %s", self.id, exc)
        finally:
            await self._stop(JanusUnavailable("session destroyed"))

    async def _stop(self, reason: Exception) -> None:
        self.lost.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(reason)
        self._pending.clear()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        for task in self._tasks:
            if task is not current:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _post(self, payload: Json, path: str = "", timeout: float | None = None) -> Json:
        if self.lost.is_set():
            raise JanusUnavailable(f"Janus session {self.id} is lost")
        try:
            return await self.client.post(f"/{self.id}{path}", payload, timeout=timeout)
        except JanusError as exc:
            if exc.code == NO_SUCH_SESSION:
                # Janus restarted or timed the session out: nothing of it survives.
                await self._stop(JanusUnavailable(f"Janus session {self.id} lost"))
            raise

    async def _request_with_event(self, handle_id: int, payload: Json, timeout: float) -> Json:
        """Send a message; return Janus's reply, or the event it promised if it only acked."""
        transaction = _transaction()
        # Registered before sending: the event may come back through the poll before the POST.
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = future
        try:
            reply = await self._post(
                {**payload, "transaction": transaction}, f"/{handle_id}", timeout=timeout
            )
            if reply.get("janus") != "ack":
                return reply
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(transaction, None)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self._post({"janus": "keepalive"})
            except JanusError as exc:
                if exc.code == NO_SUCH_SESSION:
                    await self._stop(JanusUnavailable(f"Janus session {self.id} lost"))
                    return
                log.warning("janus keepalive for session %s failed: %s", self.id, exc)
            except JanusUnavailable as exc:
                log.warning("janus keepalive for session %s failed: %s", self.id, exc)

    async def _poll_events(self) -> None:
        failures = 0
        params = {"maxev": "10", "apisecret": self.client.api_secret}
        while True:
            try:
                reply = await self.client._send(
                    "GET", f"/{self.id}", params=params, timeout=_LONG_POLL_SECONDS + 15
                )
                # With maxev Janus answers a list of events, or a single keepalive object.
                for item in reply if isinstance(reply, list) else [reply]:
                    _raise_for_janus_error(item)
                    self._dispatch(item)
                failures = 0
            except asyncio.CancelledError:
                raise
            except (JanusError, JanusUnavailable) as exc:
                failures += 1
                gone = isinstance(exc, JanusError) and exc.code == NO_SUCH_SESSION
                if gone or failures >= _POLL_FAILURES_BEFORE_LOST:
                    log.warning("janus session %s lost: %s", self.id, exc)
                    await self._stop(JanusUnavailable(f"Janus session {self.id} lost: {exc}"))
                    return
                await asyncio.sleep(0.5)

    def _dispatch(self, item: Json) -> None:
        kind = item.get("janus", "")
        if kind == "keepalive":
            return
        transaction = item.get("transaction")
        future = self._pending.get(transaction) if transaction else None
        if future is not None and not future.done() and kind == "event":
            future.set_result(item)
            return
        handle = self.handles.get(int(item.get("sender", 0)))
        if handle is None:
            return
        data = (item.get("plugindata") or {}).get("data") or {}
        handle._deliver(JanusEvent(kind=kind, data=data, jsep=item.get("jsep"), raw=item))


class JanusHandle:
    """A plugin handle: send requests and messages, read the events Janus pushes to it."""

    def __init__(self, session: JanusSession, handle_id: int, plugin: str) -> None:
        self.session = session
        self.id = handle_id
        self.plugin = plugin
        self.events: asyncio.Queue[JanusEvent] = asyncio.Queue(_HANDLE_QUEUE_SIZE)
        # Set by the owner to receive pushed events as they come (e.g. AudioBridge `talking`)
        # instead of having them queued for ``next_event``; called in the poll task, so it
        # must not block (schedule any work it needs).
        self.listener: Callable[[JanusEvent], None] | None = None

    def _deliver(self, event: JanusEvent) -> None:
        if self.listener is not None:
            try:
                self.listener(event)
            except Exception:  # a listener bug must not stop the session's event loop
                log.exception("janus handle %s: event listener failed", self.id)
            return
        if self.events.full():
            # Nobody reads this handle's events (e.g. audiolevel chatter): keep the newest.
            self.events.get_nowait()
        self.events.put_nowait(event)

    async def request(self, body: Json, *, timeout: float | None = None) -> Json:
        """Send a synchronous plugin request (create, mute, list, ...) and return its data."""
        reply = await self.session._post(
            {"janus": "message", "body": body}, f"/{self.id}", timeout=timeout
        )
        _, data = _plugin_data(reply)
        return data

    async def message(
        self, body: Json, jsep: Json | None = None, *, timeout: float = 15.0
    ) -> JanusEvent:
        """Send an asynchronous plugin message (join, watch, start, ...) and await its event."""
        payload: Json = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        reply = await self.session._request_with_event(self.id, payload, timeout)
        _, data = _plugin_data(reply)
        return JanusEvent(kind=reply.get("janus", ""), data=data, jsep=reply.get("jsep"), raw=reply)

    async def next_event(self, kind: str | None = None, *, timeout: float = 10.0) -> JanusEvent:
        """Wait for the next pushed event (of ``kind`` if given), dropping others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if kind is None or event.kind == kind:
                    return event

    async def trickle(self, candidates: list[Json], *, completed: bool = False) -> None:
        """Hand Janus ICE candidates of this handle's PeerConnection (and, last, their end)."""
        if candidates:
            await self.session._post(
                {"janus": "trickle", "candidates": candidates},
                f"/{self.id}",
            )
        if completed:
            await self.session._post(
                {"janus": "trickle", "candidate": {"completed": True}},
                f"/{self.id}",
            )

    async def hangup(self) -> None:
        """Close the handle's PeerConnection but keep the handle."""
        await self.session._post({"janus": "hangup"}, f"/{self.id}")

    async def detach(self) -> None:
        """Detach the handle (its PeerConnection and plugin state go with it)."""
        self.session.handles.pop(self.id, None)
        try:
            await self.session._post({"janus": "detach"}, f"/{self.id}")
        except JanusError as exc:
            if exc.code not in (NO_SUCH_HANDLE, NO_SUCH_SESSION):
                raise
        except JanusUnavailable:
            pass  # Janus is gone: so is the handle.
