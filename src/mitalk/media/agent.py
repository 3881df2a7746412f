"""The media node's agent (``MITALK_NODE_ROLE=media``): its Janus, its seats, its heartbeat.

A media node runs Janus (supervised, API on loopback, as in the embedded default) and this
agent, a small private HTTP API on ``MITALK_NODE_ADDRESS:MITALK_MEDIA_AGENT_PORT`` that only
API nodes call (bearer token derived from the deployment's shared secret key). The agent holds
what lives and dies with this node's Janus: its stages, the mountpoints it carries for stages
elsewhere (edges), and every seat (a Janus handle: one person's connection). So an API node
keeps nothing another node needs: if it dies, the seats it made go on (Janus sessions belong
to the agent), and another API node can mute, kick or release them by seat id.

Every ``HEARTBEAT_SECONDS`` the agent writes its record to Redis (``nodes.py``): address,
capacity, load (Janus CPU, seats, viewers). A new ``generation`` is announced whenever Janus
(re)starts, since a restarted Janus holds nothing of what the last one held.

It also follows who talks on its stages (published on Redis for the API nodes), relays a
stage's mix on to further edges when asked (two hops, ``Relay``), and with
``MITALK_TURN=managed`` runs this node's coturn, whose URLs its record carries.

Clients never reach the agent or Janus's API: only SDP passes through, via Mi Talk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, SecretStr
from redis.asyncio import Redis

from mitalk.core.settings import Settings
from mitalk.media.candidates import candidate_policy
from mitalk.media.coordinator import _UNMUTE_TALKING_RECHECK_SECONDS, _jsep
from mitalk.media.janus_client import JanusClient, JanusError, JanusEvent, JanusUnavailable, Json
from mitalk.media.locks import KeyedLocks
from mitalk.media.nodes import (
    HEARTBEAT_SECONDS,
    TALKING_CHANNEL,
    NodeInfo,
    NodeLoad,
    NodeRegistry,
    agent_token,
    pool_turn_secret,
    this_node_id,
)
from mitalk.media.schemas import MAX_CANDIDATES_PER_CONNECTION
from mitalk.media.stage import Participant, StageManager, Viewer
from mitalk.media.supervisor import JanusSupervisor, managed_janus
from mitalk.media.turn import TurnSupervisor, turn_from_settings

log = logging.getLogger(__name__)

AGENT_PREFIX = "/agent/v1"
MAX_DATAGRAM = 1500  # a relay copies RTP packets, never more than one Ethernet frame each
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass
class AgentSeat:
    """One connection on this node: a speaker on a stage, or a viewer of a mountpoint."""

    kind: Literal["stage", "audience"]
    stage_id: int
    participant: Participant | None = None
    viewer: Viewer | None = None
    token: str | None = None
    muted: bool = True
    started: bool = False
    trickled: int = 0  # ICE candidates handed to Janus for this connection (bounded)


class Relay(asyncio.DatagramProtocol):
    """An edge feeding further edges (a second hop): the stage's forwarded mix arrives here
    and each datagram is sent on as it is, to this node's own mountpoint and to the mountpoints
    of the edges it feeds. Nothing is decrypted: the SRTP key is per stage, so the edges
    downstream check the packets exactly as if the stage had sent them."""

    def __init__(self, own_mountpoint: tuple[str, int]) -> None:
        self.targets: dict[str, tuple[str, int]] = {"": own_mountpoint}
        self.transport: asyncio.DatagramTransport | None = None
        self.relayed = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # always a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is None or len(data) > MAX_DATAGRAM:
            return
        for target in self.targets.values():
            self.transport.sendto(data, target)
        self.relayed += 1

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


@dataclass
class AgentState:
    """What this node's Janus holds, as the agent made it."""

    stages: dict[int, dict[str, tuple[str, int, int]]] = field(default_factory=dict)
    mountpoints: dict[int, int] = field(default_factory=dict)  # edge mountpoints: id -> port
    relays: dict[int, Relay] = field(default_factory=dict)  # edge mountpoints feeding others
    seats: dict[str, AgentSeat] = field(default_factory=dict)
    speakers: dict[tuple[int, int], str] = field(default_factory=dict)  # (stage, participant)
    talking: dict[int, dict[str, None]] = field(default_factory=dict)  # seat ids, in order
    locks: KeyedLocks[str] = field(default_factory=KeyedLocks)

    def lock(self, key: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self.locks.hold(key)


class MediaAgent:
    """Janus, the state of what it holds, and the heartbeat (see the module docstring)."""

    def __init__(self, settings: Settings, redis: Redis, supervisor: JanusSupervisor) -> None:
        if not settings.node_address:
            raise RuntimeError("a media node needs MITALK_NODE_ADDRESS (where API nodes reach it)")
        self.settings, self.redis, self.supervisor = settings, redis, supervisor
        config = supervisor.config
        self.client = JanusClient(config.api_url, config.api_secret)
        self.stages = StageManager.from_config(self.client, config, settings.resolved_secret_key)
        self.registry = NodeRegistry(redis)
        self.node_id = this_node_id(settings)
        self.address = settings.node_address
        self.state = AgentState()
        self.generation = ""
        self._beat: asyncio.Task[None] | None = None
        self._cpu_mark: tuple[float, float] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._talk_version = 0
        # MITALK_TURN=managed: this node runs its own coturn, on the pool's shared TURN secret;
        # API nodes hand out its URLs to the people whose connection is on this node.
        self.turn_server: TurnSupervisor | None = None
        self.turn_urls: list[str] = []
        if settings.turn == "managed":
            secret = SecretStr(pool_turn_secret(settings))
            shared = settings.model_copy(update={"turn_secret": secret})
            credentials, self.turn_server = turn_from_settings(shared, config.media_interface)
            self.turn_urls = list(credentials.urls) if credentials is not None else []

    async def start(self) -> None:
        """Start Janus, then announce this node."""
        self.supervisor.on_ready(self._on_janus_ready)
        await self.supervisor.start()
        if self.turn_server is not None:
            try:
                await self.turn_server.start()
            except BaseException:
                await self.supervisor.stop()
                raise
        self._beat = asyncio.create_task(self._heartbeat(), name="media-agent-heartbeat")

    async def stop(self) -> None:
        """Leave the registry at once, then stop Janus."""
        for task in (self._beat, *self._tasks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.registry.leave(self.node_id)
        with contextlib.suppress(JanusError, JanusUnavailable):
            await self.stages.close()
        if self.turn_server is not None:
            await self.turn_server.stop()
        await self.supervisor.stop()
        await self.client.aclose()

    async def _on_janus_ready(self, generation: int) -> None:
        # A (re)started Janus has nothing: forget what the last one held, and say so.
        for relay in self.state.relays.values():
            relay.close()
        self.state = AgentState()
        self.generation = f"{secrets.token_hex(4)}-{generation}"
        log.info("media node %s: janus generation %d ready", self.node_id, generation)
        await self._announce()

    def _janus_cpu_pct(self) -> float:
        pid = self.supervisor.pid
        if pid is None:
            return 0.0
        try:
            used = process_cpu_seconds(pid)
        except (OSError, ValueError, IndexError):
            return 0.0
        now = time.monotonic()
        previous, self._cpu_mark = self._cpu_mark, (now, used)
        if previous is None or now <= previous[0]:
            return 0.0
        return 100 * (used - previous[1]) / (now - previous[0])

    def info(self) -> NodeInfo:
        """This node's registry record as of now."""
        seats = self.state.seats.values()
        return NodeInfo(
            node_id=self.node_id,
            address=self.address,
            agent_url=f"http://{self.address}:{self.settings.media_agent_port}{AGENT_PREFIX}",
            generation=self.generation,
            max_viewers=self.settings.node_max_viewers,
            max_seats=self.settings.node_max_seats,
            turn_urls=self.turn_urls
            if self.turn_server is not None and self.turn_server.health() == "ok"
            else [],
            load=NodeLoad(
                cpu_pct=round(self._janus_cpu_pct(), 2),
                seats=sum(seat.kind == "stage" for seat in seats),
                viewers=sum(seat.kind == "audience" for seat in seats),
                stages=len(self.state.stages),
                mountpoints=len(self.state.mountpoints),
            ),
        )

    async def _announce(self) -> None:
        if self.supervisor.ready.is_set() and self.generation:
            await self.registry.heartbeat(self.info())

    async def _heartbeat(self) -> None:
        while True:
            try:
                await self._announce()
            except Exception as exc:  # noqa: BLE001 - Redis away: try again next beat
                log.warning("media node heartbeat failed: %s", exc)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    # Operations (the HTTP handlers below call these) ---------------------------------------

    async def ensure_stage(self, stage_id: int) -> None:
        """Create a stage (AudioBridge room, local mountpoint, forward) unless it exists."""
        async with self.state.lock(f"stage:{stage_id}"):
            if stage_id in self.state.stages:
                return
            try:
                await self.stages.create_stage(stage_id)
            except JanusError:
                await self.stages.destroy_stage(stage_id)  # left over: same secrets, start clean
                await self.stages.create_stage(stage_id)
            self.state.stages[stage_id] = {}

    async def destroy_stage(self, stage_id: int) -> None:
        """Destroy a stage and forget its seats."""
        async with self.state.lock(f"stage:{stage_id}"):
            self.state.stages.pop(stage_id, None)
            await self.stages.destroy_stage(stage_id)
        for seat_id in [k for k, s in self.state.seats.items() if s.stage_id == stage_id]:
            await self.release(seat_id, kick=False)
        self.state.talking.pop(stage_id, None)

    async def forward(self, stage_id: int, edge_id: str, host: str, port: int) -> None:
        """Forward the stage's mix to an edge (replacing an older forward to that edge)."""
        async with self.state.lock(f"stage:{stage_id}"):
            forwards = self.state.stages.get(stage_id)
            if forwards is None:
                raise HTTPException(404, "no such stage on this node")
            existing = forwards.get(edge_id)
            if existing is not None and existing[:2] == (host, port):
                return
            if existing is not None:
                with contextlib.suppress(JanusError):
                    await self.stages.stop_forward(stage_id, existing[2])
            forwarder = await self.stages.forward_to(stage_id, host, port)
            forwards[edge_id] = (host, port, forwarder)

    async def stop_forward(self, stage_id: int, edge_id: str) -> None:
        """Stop forwarding the stage's mix to an edge."""
        async with self.state.lock(f"stage:{stage_id}"):
            existing = self.state.stages.get(stage_id, {}).pop(edge_id, None)
            if existing is not None:
                await self.stages.stop_forward(stage_id, existing[2])

    async def ensure_mountpoint(self, stage_id: int) -> int:
        """Carry a remote stage here: a mountpoint on this node's address; the port the mix
        is to be sent to (the relay's, once this edge feeds others)."""
        async with self.state.lock(f"mountpoint:{stage_id}"):
            port = self.state.mountpoints.get(stage_id)
            if port is None:
                try:
                    port = await self.stages.create_edge_mountpoint(stage_id, self.address)
                except JanusError:
                    await self.stages.destroy_mountpoint(stage_id)
                    port = await self.stages.create_edge_mountpoint(stage_id, self.address)
                self.state.mountpoints[stage_id] = port
            relay = self.state.relays.get(stage_id)
            return relay.port if relay is not None else port

    async def ensure_relay(self, stage_id: int) -> int:
        """Make this edge able to feed others: a relay in front of its mountpoint; its port
        (where the mix is to be sent from now on)."""
        async with self.state.lock(f"mountpoint:{stage_id}"):
            port = self.state.mountpoints.get(stage_id)
            if port is None:
                raise HTTPException(404, "this node does not carry that stage")
            relay = self.state.relays.get(stage_id)
            if relay is None:
                loop = asyncio.get_running_loop()
                _, relay = await loop.create_datagram_endpoint(
                    lambda: Relay((self.address, port)), local_addr=(self.address, 0)
                )
                self.state.relays[stage_id] = relay
            return relay.port

    async def relay_to(self, stage_id: int, edge_id: str, host: str, port: int) -> None:
        """Send what this edge receives of a stage on to another edge's mountpoint."""
        relay = self.state.relays.get(stage_id)
        if relay is None:
            raise HTTPException(404, "this node relays nothing of that stage")
        if edge_id not in relay.targets and len(relay.targets) > self.settings.stage_forwards:
            raise HTTPException(422, "this relay feeds as many edges as it may")
        relay.targets[edge_id] = (host, port)

    async def stop_relay_to(self, stage_id: int, edge_id: str) -> None:
        """Stop relaying a stage to an edge."""
        relay = self.state.relays.get(stage_id)
        if relay is not None and edge_id:
            relay.targets.pop(edge_id, None)

    async def destroy_mountpoint(self, stage_id: int) -> None:
        """Stop carrying a remote stage (its viewers here lose the stream)."""
        async with self.state.lock(f"mountpoint:{stage_id}"):
            self.state.mountpoints.pop(stage_id, None)
            relay = self.state.relays.pop(stage_id, None)
            if relay is not None:
                relay.close()
            await self.stages.destroy_mountpoint(stage_id)
        for seat_id in [
            k
            for k, s in self.state.seats.items()
            if s.stage_id == stage_id and s.kind == "audience"
        ]:
            await self.release(seat_id, kick=False)

    async def speak(self, seat_id: str, stage_id: int, offer: Json, muted: bool) -> Json:
        """Join a speaker to a stage here with its offer; Janus's answer."""
        async with self.state.lock(f"seat:{seat_id}"):
            if stage_id not in self.state.stages:
                raise HTTPException(404, "no such stage on this node")
            token = secrets.token_urlsafe(18)
            await self.stages.allow(stage_id, [token])
            try:
                participant = await self.stages.join(
                    stage_id, token, _jsep(offer, candidate_policy(self.settings)), muted=muted
                )
            except BaseException:
                with contextlib.suppress(JanusError, JanusUnavailable):
                    await self.stages.disallow(stage_id, [token])
                raise
            previous = self.state.seats.get(seat_id)
            self.state.seats[seat_id] = AgentSeat(
                "stage", stage_id, participant=participant, token=token, muted=muted, started=True
            )
            self.state.speakers[(stage_id, participant.participant_id)] = seat_id
            participant.handle.listener = lambda event: self._on_stage_event(stage_id, event)
        if previous is not None:
            await self._drop(previous, kick=previous.kind == "stage")
        return participant.answer

    async def watch(self, seat_id: str, stage_id: int) -> Json:
        """A receive-only viewer of the stage's mountpoint here; Janus's offer."""
        async with self.state.lock(f"seat:{seat_id}"):
            if stage_id not in self.state.stages and stage_id not in self.state.mountpoints:
                raise HTTPException(404, "this node does not carry that stage")
            viewer = await self.stages.watch(stage_id)
            previous = self.state.seats.get(seat_id)
            self.state.seats[seat_id] = AgentSeat("audience", stage_id, viewer=viewer)
        if previous is not None:
            await self._drop(previous, kick=previous.kind == "stage")
        return viewer.offer

    async def start_viewer(self, seat_id: str, answer: Json) -> None:
        """Apply a viewer's answer: the stream starts."""
        async with self.state.lock(f"seat:{seat_id}"):
            seat = self.state.seats.get(seat_id)
            if seat is None or seat.viewer is None or seat.started:
                raise HTTPException(409, "no offer to answer for this seat")
            jsep = _jsep(answer, candidate_policy(self.settings))
            await self.stages.start_viewer(seat.viewer, jsep)
            seat.started = True

    async def trickle(self, seat_id: str, candidates: list[Json], completed: bool) -> None:
        """Hand Janus a seat's trickled ICE candidates (at most a real client's worth)."""
        async with self.state.lock(f"seat:{seat_id}"):
            seat = self.state.seats.get(seat_id)
            if seat is None or not seat.started:
                raise HTTPException(409, "no connection to add candidates to")
            if seat.trickled + len(candidates) > MAX_CANDIDATES_PER_CONNECTION:
                raise HTTPException(429, "too many candidates for one connection")
            seat.trickled += len(candidates)  # dropped ones count too: they were sent
            seat_handle = seat.participant or seat.viewer
            assert seat_handle is not None
            usable = candidate_policy(self.settings).candidates(candidates)
            if usable or completed:
                await seat_handle.handle.trickle(usable, completed=completed)

    async def mute(self, seat_id: str, muted: bool) -> None:
        """Mute or unmute a speaker server-side."""
        async with self.state.lock(f"seat:{seat_id}"):
            seat = self.state.seats.get(seat_id)
            if seat is None or seat.participant is None:
                raise HTTPException(404, "no such speaker seat")
            if seat.muted == muted:
                return
            if muted:
                await self.stages.mute(seat.stage_id, seat.participant.participant_id)
            else:
                await self.stages.unmute(seat.stage_id, seat.participant.participant_id)
            seat.muted = muted
        if muted:
            self._set_talking(seat.stage_id, seat_id, talking=False)
        else:
            self._spawn(self._recheck_talking(seat_id, seat))

    async def release(self, seat_id: str, *, kick: bool) -> None:
        """Take a seat away (a speaker kicked and barred from rejoining with its token)."""
        async with self.state.lock(f"seat:{seat_id}"):
            seat = self.state.seats.pop(seat_id, None)
        if seat is not None:
            await self._drop(seat, kick=kick)

    async def _drop(self, seat: AgentSeat, *, kick: bool) -> None:
        if seat.participant is not None:
            key = (seat.stage_id, seat.participant.participant_id)
            seat_id = self.state.speakers.pop(key, None)
            if seat_id is not None:
                self._set_talking(seat.stage_id, seat_id, talking=False)
        try:
            if seat.participant is not None:
                if kick:
                    await self.stages.kick(
                        seat.stage_id, seat.participant.participant_id, seat.token
                    )
                elif seat.token is not None:
                    with contextlib.suppress(JanusError):
                        await self.stages.disallow(seat.stage_id, [seat.token])
                await self.stages.leave(seat.participant)
            if seat.viewer is not None:
                await self.stages.leave(seat.viewer)
        except (JanusError, JanusUnavailable) as exc:
            log.info("releasing a seat failed (janus gone?): %s", exc)


    # Who is talking (room.active_speaker, published by an API node) ----------------------

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_stage_event(self, stage_id: int, event: JanusEvent) -> None:
        """A pushed AudioBridge event; every speaker's handle hears about everyone."""
        what = event.data.get("audiobridge")
        if what not in ("talking", "stopped-talking"):
            return
        try:
            participant_id = int(event.data.get("id", 0))
        except (TypeError, ValueError):
            return
        seat_id = self.state.speakers.get((stage_id, participant_id))
        seat = self.state.seats.get(seat_id) if seat_id is not None else None
        if seat_id is None or seat is None:
            return
        # A muted person is never announced, whatever Janus measures of what they send.
        self._set_talking(stage_id, seat_id, talking=what == "talking" and not seat.muted)

    async def _recheck_talking(self, seat_id: str, seat: AgentSeat) -> None:
        """After an unmute: Janus may already count them as talking and will not say so again."""
        await asyncio.sleep(_UNMUTE_TALKING_RECHECK_SECONDS)
        if self.state.seats.get(seat_id) is not seat or seat.muted or seat.participant is None:
            return
        try:
            listed = await self.stages.participants(seat.stage_id)
        except (JanusError, JanusUnavailable):
            return
        participant_id = seat.participant.participant_id
        talks = any(e.get("id") == participant_id and e.get("talking") is True for e in listed)
        if talks and self.state.seats.get(seat_id) is seat and not seat.muted:
            self._set_talking(seat.stage_id, seat_id, talking=True)

    def _set_talking(self, stage_id: int, seat_id: str, *, talking: bool) -> None:
        """Record a change and tell the API nodes who talks on that stage now (in order)."""
        now = self.state.talking.setdefault(stage_id, {})
        if talking == (seat_id in now):
            return
        if talking:
            now[seat_id] = None
        else:
            del now[seat_id]
        self._talk_version += 1
        message = json.dumps(
            {
                "node": self.node_id,
                "generation": self.generation,
                "version": self._talk_version,
                "stage": stage_id,
                "talking": list(now),
            }
        )
        self._spawn(self._tell_talking(message))

    async def _tell_talking(self, message: str) -> None:
        try:
            await self.redis.publish(TALKING_CHANNEL, message)
        except Exception as exc:  # noqa: BLE001 - Redis away: the next change says it again
            log.warning("could not publish who talks: %s", exc)


# HTTP ----------------------------------------------------------------------------------------


class StageForward(BaseModel):
    """Where an edge's mountpoint listens."""

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)


class SpeakBody(BaseModel):
    """A speaker's offer for a stage on this node."""

    stage_id: int
    offer: dict[str, Any]
    muted: bool


class WatchBody(BaseModel):
    """A viewer for a stage (or an edge mountpoint) on this node."""

    stage_id: int


class AnswerBody(BaseModel):
    """A viewer's SDP answer."""

    answer: dict[str, Any]


class TrickleBody(BaseModel):
    """ICE candidates of a seat's connection."""

    candidates: list[dict[str, Any]]
    completed: bool = False


class MuteBody(BaseModel):
    """Mute or unmute a speaker."""

    muted: bool


def _agent(request: Request) -> MediaAgent:
    agent: MediaAgent = request.app.state.agent
    return agent


def _authorized(request: Request, authorization: Annotated[str, Header()] = "") -> None:
    expected = f"Bearer {agent_token(request.app.state.settings)}"
    if not secrets.compare_digest(authorization.encode(), expected.encode()):
        raise HTTPException(401, "not an API node of this deployment")


@contextlib.contextmanager
def _janus_errors() -> Iterator[None]:
    try:
        yield
    except JanusUnavailable as exc:
        raise HTTPException(503, f"janus unavailable: {exc}") from exc
    except JanusError as exc:
        raise HTTPException(422, f"janus refused: {exc}") from exc


def create_agent_app(settings: Settings) -> FastAPI:
    """The media node's app: the agent API and /healthz."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.redis_url:
            raise RuntimeError("a media node needs MITALK_REDIS_URL (the node registry)")
        settings.ensure_data_dir()
        redis = Redis.from_url(settings.redis_url)
        agent = MediaAgent(settings, redis, managed_janus(settings))
        await agent.start()
        app.state.agent = agent
        try:
            yield
        finally:
            await agent.stop()
            await redis.aclose()

    app = FastAPI(
        title="Mi Talk media node agent", lifespan=lifespan, openapi_url=None, docs_url=None
    )
    app.state.settings = settings
    guarded = [Depends(_authorized)]

    @app.get("/healthz")
    async def healthz(request: Request) -> JSONResponse:
        """200 while this node's Janus (and its managed coturn, if any) answers."""
        agent = _agent(request)
        ready = agent.supervisor.ready.is_set()
        body: dict[str, str] = {"status": "ok" if ready else "unavailable"}
        if agent.turn_server is not None:
            body["turn"] = agent.turn_server.health()
            ready = ready and body["turn"] == "ok"
        return JSONResponse(body, 200 if ready else 503)

    @app.get(f"{AGENT_PREFIX}/state", dependencies=guarded)
    async def state(request: Request) -> dict[str, Any]:
        """What this node holds (for reconciling and tests)."""
        agent = _agent(request)
        return {
            "node_id": agent.node_id,
            "generation": agent.generation,
            "stages": {str(k): sorted(v) for k, v in agent.state.stages.items()},
            "mountpoints": sorted(agent.state.mountpoints),
            "relays": {
                str(k): sorted(t for t in r.targets if t) for k, r in agent.state.relays.items()
            },
            "seats": {k: s.kind for k, s in agent.state.seats.items()},
        }

    @app.put(f"{AGENT_PREFIX}/stages/{{stage_id}}", dependencies=guarded)
    async def put_stage(stage_id: int, request: Request) -> dict[str, str]:
        """Create a stage here (idempotent)."""
        with _janus_errors():
            await _agent(request).ensure_stage(stage_id)
        return {"generation": _agent(request).generation}

    @app.delete(f"{AGENT_PREFIX}/stages/{{stage_id}}", dependencies=guarded)
    async def delete_stage(stage_id: int, request: Request) -> dict[str, str]:
        """Destroy a stage here."""
        with _janus_errors():
            await _agent(request).destroy_stage(stage_id)
        return {}

    @app.put(f"{AGENT_PREFIX}/stages/{{stage_id}}/forwards/{{edge_id}}", dependencies=guarded)
    async def put_forward(
        stage_id: int, edge_id: str, body: StageForward, request: Request
    ) -> dict[str, str]:
        """Forward a stage's mix to an edge (SRTP)."""
        with _janus_errors():
            await _agent(request).forward(stage_id, edge_id, body.host, body.port)
        return {}

    @app.delete(f"{AGENT_PREFIX}/stages/{{stage_id}}/forwards/{{edge_id}}", dependencies=guarded)
    async def delete_forward(stage_id: int, edge_id: str, request: Request) -> dict[str, str]:
        """Stop forwarding to an edge."""
        with _janus_errors():
            await _agent(request).stop_forward(stage_id, edge_id)
        return {}

    @app.put(f"{AGENT_PREFIX}/mountpoints/{{stage_id}}", dependencies=guarded)
    async def put_mountpoint(stage_id: int, request: Request) -> dict[str, Any]:
        """Carry a remote stage here (edge); the port the stage should forward to."""
        with _janus_errors():
            port = await _agent(request).ensure_mountpoint(stage_id)
        return {"host": _agent(request).address, "port": port}

    @app.put(f"{AGENT_PREFIX}/mountpoints/{{stage_id}}/relay", dependencies=guarded)
    async def put_relay(stage_id: int, request: Request) -> dict[str, Any]:
        """Let this edge feed others: where the mix is to be sent from now on."""
        port = await _agent(request).ensure_relay(stage_id)
        return {"host": _agent(request).address, "port": port}

    @app.put(
        f"{AGENT_PREFIX}/mountpoints/{{stage_id}}/relay/targets/{{edge_id}}",
        dependencies=guarded,
    )
    async def put_relay_target(
        stage_id: int, edge_id: str, body: StageForward, request: Request
    ) -> dict[str, str]:
        """Relay the stage's mix on to another edge's mountpoint."""
        await _agent(request).relay_to(stage_id, edge_id, body.host, body.port)
        return {}

    @app.delete(
        f"{AGENT_PREFIX}/mountpoints/{{stage_id}}/relay/targets/{{edge_id}}",
        dependencies=guarded,
    )
    async def delete_relay_target(stage_id: int, edge_id: str, request: Request) -> dict[str, str]:
        """Stop relaying to an edge."""
        await _agent(request).stop_relay_to(stage_id, edge_id)
        return {}

    @app.delete(f"{AGENT_PREFIX}/mountpoints/{{stage_id}}", dependencies=guarded)
    async def delete_mountpoint(stage_id: int, request: Request) -> dict[str, str]:
        """Stop carrying a remote stage here."""
        with _janus_errors():
            await _agent(request).destroy_mountpoint(stage_id)
        return {}

    @app.post(f"{AGENT_PREFIX}/seats/{{seat_id}}/speak", dependencies=guarded)
    async def speak(seat_id: str, body: SpeakBody, request: Request) -> dict[str, Any]:
        """A speaker joins a stage here: Janus's answer."""
        with _janus_errors():
            answer = await _agent(request).speak(seat_id, body.stage_id, body.offer, body.muted)
        return {"answer": answer}

    @app.post(f"{AGENT_PREFIX}/seats/{{seat_id}}/watch", dependencies=guarded)
    async def watch(seat_id: str, body: WatchBody, request: Request) -> dict[str, Any]:
        """A viewer of a mountpoint here: Janus's offer."""
        with _janus_errors():
            offer = await _agent(request).watch(seat_id, body.stage_id)
        return {"offer": offer}

    @app.post(f"{AGENT_PREFIX}/seats/{{seat_id}}/start", dependencies=guarded)
    async def start(seat_id: str, body: AnswerBody, request: Request) -> dict[str, str]:
        """A viewer's answer: the stream starts."""
        with _janus_errors():
            await _agent(request).start_viewer(seat_id, body.answer)
        return {}

    @app.post(f"{AGENT_PREFIX}/seats/{{seat_id}}/candidates", dependencies=guarded)
    async def candidates(seat_id: str, body: TrickleBody, request: Request) -> dict[str, str]:
        """Trickled ICE candidates of a seat's connection."""
        with _janus_errors():
            await _agent(request).trickle(seat_id, body.candidates, body.completed)
        return {}

    @app.post(f"{AGENT_PREFIX}/seats/{{seat_id}}/mute", dependencies=guarded)
    async def mute(seat_id: str, body: MuteBody, request: Request) -> dict[str, str]:
        """Mute or unmute a speaker server-side."""
        with _janus_errors():
            await _agent(request).mute(seat_id, body.muted)
        return {}

    @app.delete(f"{AGENT_PREFIX}/seats/{{seat_id}}", dependencies=guarded)
    async def release(seat_id: str, request: Request, kick: bool = False) -> dict[str, str]:
        """Take a seat away (``kick``: a speaker is kicked and barred)."""
        await _agent(request).release(seat_id, kick=kick)
        return {}

    return app
