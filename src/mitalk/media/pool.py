"""Rooms on a pool of media nodes (``MITALK_NODE_ROLE=api``): placement, edges, failover.

An API node runs no Janus. It finds the media nodes in the Redis registry (``nodes.py``) and
asks their agents (``agent.py``) for everything: a room's stage goes to the least-loaded node;
its audience is served by *edges*: the stage node itself (its local mountpoint) and, once a
room's listeners pass ``MITALK_EDGE_VIEWERS`` per edge, further nodes whose mountpoints receive
the stage's mix over SRTP (``rtp_forward``). A listener is placed on the least-loaded edge that
carries the room and still has room; edges with nobody left on them are drained. A stage
forwards to at most ``MITALK_STAGE_FORWARDS`` edges itself; further edges are fed by a relay on
one of those (the agent sends on the datagrams it receives: two hops).

Nothing here lives in one API node's memory: placements, seats and per-edge listener counts
are Redis hashes, the seats themselves (Janus handles) belong to the media nodes' agents, and
room events are applied by whichever API node claims them first (``SET NX`` per room and seq),
so an API node can die at any moment and the next request, on any node, finds everything.

Failure: one API node at a time (a Redis lease) watches the registry. A media node that falls
silent, or comes back as a new generation (its Janus restarted), is dead for what it held: a
stage it carried is re-created on another node (which forwards again to the room's surviving
edges), and everyone whose seat was on it is sent ``room.media_reconnect`` to connect again, so
listeners are moved to another edge and speakers join the new stage without doing anything.
The same node sweeps every few seconds: what Redis records and the agents do not hold is
repaired, what agents hold and nothing records is removed (docs/scale.md, "The sweep").

Who talks: agents publish it per stage (seat ids) on ``mitalk:media:talking``; the leading API
node turns it into ``room.active_speaker``. TURN: each person is handed the managed coturn of
the media node their connection goes to (or the operator's, ``MITALK_TURN=external``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import httpx

from mitalk.core.database import Database, utcnow
from mitalk.core.errors import AppError
from mitalk.core.settings import Settings
from mitalk.media import repository as repo
from mitalk.media.coordinator import (
    ACTIVE_SPEAKER_MIN_INTERVAL,
    RoomTalk,
    check_place,
    public_jsep,
    stage_id_of,
)
from mitalk.media.errors import (
    MediaRefused,
    MediaUnavailable,
    NoConnectionToTrickle,
    NoOfferToAnswer,
    TooManyCandidates,
)
from mitalk.media.janus_client import Json
from mitalk.media.nodes import (
    DEAD_AFTER_SECONDS,
    TALKING_CHANNEL,
    NodeInfo,
    NodeRegistry,
    agent_token,
    pool_turn_secret,
    this_node_id,
)
from mitalk.media.turn import TurnCredentials, TurnSupervisor, turn_from_settings
from mitalk.realtime.bus import EventBus
from mitalk.realtime.events import Recipients
from mitalk.rooms import repository as rooms_repo
from mitalk.rooms.events import (
    ActiveSpeaker,
    Ended,
    MediaReconnect,
    Muted,
    ParticipantLeft,
    Removed,
    RoleChanged,
    RoomCreated,
    RoomEventBase,
    Unmuted,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

ROOMS_SET = "mitalk:media:rooms"
MONITOR_LEASE = "mitalk:media:monitor"
MONITOR_INTERVAL = 0.25
LOCK_MILLISECONDS = 15_000
AGENT_TIMEOUT = 10.0
# The sweep: what the agents hold is compared with what Redis records this often. Something
# recorded but missing on its node is repaired once two sweeps in a row found it missing;
# something a node holds that nothing records (an API node died between asking an agent and
# recording it) is removed once it has been so for longer than any placement holds its lock.
SWEEP_SECONDS = 5.0
ORPHAN_GRACE_SECONDS = LOCK_MILLISECONDS / 1000 + SWEEP_SECONDS


def _room_key(room_id: str) -> str:
    return f"mitalk:media:room:{room_id}"  # stage, stage_gen, edge:<node> -> generation


def _seats_key(room_id: str) -> str:
    return f"mitalk:media:seats:{room_id}"  # user id -> {"node", "gen", "seat", "kind"}


def _viewers_key(room_id: str) -> str:
    return f"mitalk:media:viewers:{room_id}"  # node id -> listeners of the room there


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PoolCoordinator:
    """The media layer of an API node; the same calls as ``MediaCoordinator``."""

    def __init__(self, settings: Settings, db: Database, bus: EventBus, redis: Redis) -> None:
        self.settings, self.db, self.bus, self.redis = settings, db, bus, redis
        self.registry = NodeRegistry(redis)
        self.secret_key = settings.resolved_secret_key
        self.me = this_node_id(settings)
        self.http = httpx.AsyncClient(
            trust_env=False,
            timeout=AGENT_TIMEOUT,
            headers={"Authorization": f"Bearer {agent_token(settings)}"},
        )
        self.turn: TurnCredentials | None = None
        self.turn_server: TurnSupervisor | None = None  # no managed coturn on API nodes
        if settings.turn == "external":
            self.turn, _ = turn_from_settings(settings, "")
        self.turn_secret = pool_turn_secret(settings)
        self._tasks: set[asyncio.Task[None]] = set()
        self._consumer: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._talking: asyncio.Task[None] | None = None
        self.failovers = 0  # handled by this node (tests read it)
        self.leading = False  # this node holds the monitor lease (and publishes who talks)
        self._talk: dict[str, RoomTalk] = {}  # rooms whose speakers this node announces
        self._talk_versions: dict[tuple[str, str, int], int] = {}  # (node, gen, stage) -> last
        self._active: dict[str, str | None] = {}  # room.active_speaker as last published
        self._suspects: set[tuple[str, ...]] = set()  # missing at the last sweep
        self._orphans: dict[tuple[str, ...], float] = {}  # held, unrecorded: since when
        self._swept_at = 0.0
        self._sweeping: asyncio.Task[None] | None = None
        self.repairs = 0  # made by this node's sweeps (tests read the log)

    # Life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow room events and watch the media nodes."""
        self._consumer = asyncio.create_task(self._consume(), name="media-pool-events")
        self._monitor = asyncio.create_task(self._watch_nodes(), name="media-pool-monitor")
        self._talking = asyncio.create_task(self._follow_talking(), name="media-pool-talking")

    async def stop(self) -> None:
        """Stop following; what the media nodes hold stays (another API node carries on)."""
        for task in (self._consumer, self._monitor, self._talking, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._consumer, self._monitor, self._talking, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            if await self.redis.get(MONITOR_LEASE) == self.me.encode():
                await self.redis.delete(MONITOR_LEASE)
        await self.http.aclose()

    async def health(self) -> str:
        """``ok`` while at least one media node is alive."""
        try:
            live = await self.registry.live()
        except Exception as exc:  # noqa: BLE001 - Redis down: not ready
            return f"unreachable: {type(exc).__name__}"
        return "ok" if live else "unreachable: no media node is registered"

    async def ice_servers(self, room_id: str, user_id: str) -> list[dict[str, Any]]:
        """TURN for someone's next connection in a room. ``MITALK_TURN=external`` on the API
        nodes: the operator's TURN servers. Otherwise the managed coturn of the media node that
        connection goes to (on stage: the stage node; a listener: their edge, else the stage
        node), with a credential on the pool's shared TURN secret; none if it runs no coturn."""
        if self.turn is not None:
            return self.turn.ice_servers(user_id)
        live = await self.registry.live()
        placement = await self._placement(room_id)
        place = await self._place_of(room_id, user_id)
        node = live.get(placement.get("stage", ""))
        seat = await self._seat(room_id, user_id)
        if not place.on_stage and seat is not None and seat["kind"] == "audience":
            node = live.get(seat["node"], node)
        if node is None or not node.turn_urls:
            return []
        credentials = TurnCredentials(
            tuple(node.turn_urls), self.turn_secret, self.settings.turn_ttl_seconds
        )
        return credentials.ice_servers(user_id)

    def active_speaker(self, room_id: str) -> str | None:
        """Who ``room.active_speaker`` last named in this room (every API node follows them)."""
        return self._active.get(room_id)

    def stage_id(self, room_id: str) -> int:
        """The stage id of a room (same derivation as the embedded coordinator)."""
        return stage_id_of(self.secret_key, room_id)

    # Agents --------------------------------------------------------------------------------

    async def _call(
        self,
        node: NodeInfo,
        method: str,
        path: str,
        body: Any = None,
        conflict: type[AppError] = NoOfferToAnswer,
    ) -> Json:
        try:
            response = await self.http.request(method, node.agent_url + path, json=body)
        except httpx.HTTPError as exc:
            raise MediaUnavailable() from exc
        if response.status_code == 422:
            raise MediaRefused()
        if response.status_code == 409:
            raise conflict()
        if response.status_code == 429:
            raise TooManyCandidates()
        if response.status_code >= 400:
            log.warning("agent %s %s %s: %s", node.node_id, method, path, response.text[:200])
            raise MediaUnavailable()
        result: Json = response.json()
        return result

    # Placement -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _room_lock(self, room_id: str) -> Any:
        key, token = f"mitalk:media:lock:{room_id}", secrets.token_hex(8)
        for _ in range(400):
            if await self.redis.set(key, token, nx=True, px=LOCK_MILLISECONDS):
                break
            await asyncio.sleep(0.025)
        else:
            raise MediaUnavailable()
        try:
            yield
        finally:
            if await self.redis.get(key) == token.encode():
                await self.redis.delete(key)

    async def _placement(self, room_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(_room_key(room_id))
        return {_text(k): _text(v) for k, v in raw.items()}

    @staticmethod
    def _alive(live: dict[str, NodeInfo], node_id: str | None, generation: str | None) -> bool:
        return node_id is not None and node_id in live and live[node_id].generation == generation

    async def ensure_stage(self, room_id: str) -> NodeInfo:
        """The node carrying the room's stage, placing (or re-placing) it if needed."""
        live = await self.registry.live()
        placement = await self._placement(room_id)
        if self._alive(live, placement.get("stage"), placement.get("stage_gen")):
            return live[placement["stage"]]
        async with self._room_lock(room_id):
            live = await self.registry.live()
            placement = await self._placement(room_id)
            if self._alive(live, placement.get("stage"), placement.get("stage_gen")):
                return live[placement["stage"]]
            async with self.db.read_sessions() as session:
                room = await rooms_repo.room_by_id(session, room_id)
            if room is None or room.status != "live":
                raise MediaUnavailable()
            edges = {k[5:]: v for k, v in placement.items() if k.startswith("edge:")}
            fits = [n for n in live.values() if n.load.seats < n.max_seats] or list(live.values())
            if not fits:
                raise MediaUnavailable()
            # Prefer a node not already carrying the room as an edge (its mountpoint has the
            # stage's id); the least-loaded of those.
            fits.sort(key=lambda n: (n.node_id in edges, n.score, n.node_id))
            node = fits[0]
            stage_id = self.stage_id(room_id)
            if node.node_id in edges:
                await self._call(node, "DELETE", f"/mountpoints/{stage_id}")
                await self.redis.hdel(
                    _room_key(room_id), f"edge:{node.node_id}", f"feed:{node.node_id}"
                )
                del edges[node.node_id]
            # Named among the placed rooms first, so the sweep finds it if the rest fails.
            await self.redis.sadd(ROOMS_SET, room_id)
            await self._call(node, "PUT", f"/stages/{stage_id}")
            await self.redis.hset(
                _room_key(room_id), mapping={"stage": node.node_id, "stage_gen": node.generation}
            )
            for edge_id, generation in edges.items():
                if not self._alive(live, edge_id, generation):
                    await self.redis.hdel(_room_key(room_id), f"edge:{edge_id}", f"feed:{edge_id}")
            # Edges the old stage fed directly are fed by the new one; those fed by a relay
            # edge stay on it (the relay is fed again, so they hear again with it).
            await self._repair_feeds(room_id, node, live, restage=True)
            log.info("room %s: stage on media node %s", room_id, node.node_id)
            return node

    async def _feed(
        self, room_id: str, stage: NodeInfo, edge: NodeInfo, live: dict[str, NodeInfo]
    ) -> None:
        """Feed an edge the room's mix (under the room lock): from the stage while it forwards
        to fewer than ``MITALK_STAGE_FORWARDS`` edges; beyond that from a relay, an edge the
        stage feeds that sends on what it receives (two hops), the one feeding fewest."""
        stage_id = self.stage_id(room_id)
        placement = await self._placement(room_id)
        feeds = {k[5:]: v for k, v in placement.items() if k.startswith("feed:")}
        others = [
            k[5:]
            for k, generation in placement.items()
            if k.startswith("edge:") and k[5:] != edge.node_id
            and self._alive(live, k[5:], generation)
        ]  # fmt: skip
        direct = [e for e in others if feeds.get(e, "stage") == "stage"]
        limit = self.settings.stage_forwards
        carried = await self._call(edge, "PUT", f"/mountpoints/{stage_id}")
        target = {"host": carried["host"], "port": carried["port"]}
        downstream = {e: sum(1 for v in feeds.values() if v == e) for e in direct}
        relays = sorted((e for e in direct if downstream[e] < limit),
                        key=lambda e: (downstream[e], e))  # fmt: skip
        feeder = "stage"
        if len(direct) < limit or not relays:
            await self._call(stage, "PUT", f"/stages/{stage_id}/forwards/{edge.node_id}", target)
        else:
            relay = live[relays[0]]
            ingress = await self._call(relay, "PUT", f"/mountpoints/{stage_id}/relay")
            # The relay edge now receives the mix on its relay, which also feeds its own
            # mountpoint (a no-op if it relayed already).
            await self._call(
                stage,
                "PUT",
                f"/stages/{stage_id}/forwards/{relay.node_id}",
                {"host": ingress["host"], "port": ingress["port"]},
            )
            await self._call(
                relay, "PUT", f"/mountpoints/{stage_id}/relay/targets/{edge.node_id}", target
            )
            feeder = relay.node_id
        await self.redis.hset(_room_key(room_id), f"feed:{edge.node_id}", feeder)

    async def _repair_feeds(
        self, room_id: str, stage: NodeInfo, live: dict[str, NodeInfo], *, restage: bool
    ) -> None:
        """Feed again every live edge whose feeder is gone (under the room lock); with
        ``restage``, also those the stage fed (a new stage forwards to none yet)."""
        placement = await self._placement(room_id)
        edges = [
            k[5:]
            for k, generation in placement.items()
            if k.startswith("edge:") and self._alive(live, k[5:], generation)
        ]
        feeds = {e: placement.get(f"feed:{e}", "stage") for e in edges}
        # Direct edges first: a relay fed again keeps feeding its edges.
        for edge_id in sorted(edges, key=lambda e: feeds[e] != "stage"):
            feeder = feeds[edge_id]
            if feeder == "stage" and restage:
                carried = await self._call(
                    live[edge_id], "PUT", f"/mountpoints/{self.stage_id(room_id)}"
                )
                await self._call(
                    stage,
                    "PUT",
                    f"/stages/{self.stage_id(room_id)}/forwards/{edge_id}",
                    {"host": carried["host"], "port": carried["port"]},
                )
            elif feeder != "stage" and feeder not in edges:
                await self._feed(room_id, stage, live[edge_id], live)

    async def _open_edges(
        self, room_id: str, stage: NodeInfo
    ) -> tuple[list[NodeInfo], list[NodeInfo], dict[str, NodeInfo]]:
        """(edges carrying the room, those with room for one more listener, live nodes)."""
        live = await self.registry.live()
        placement = await self._placement(room_id)
        counts = {
            _text(k): int(v) for k, v in (await self.redis.hgetall(_viewers_key(room_id))).items()
        }
        edges = [live.get(stage.node_id, stage)] + [
            live[k[5:]]
            for k, v in placement.items()
            if k.startswith("edge:") and self._alive(live, k[5:], v)
        ]
        limit = self.settings.edge_viewers
        open_edges = sorted(
            (
                e
                for e in edges
                if counts.get(e.node_id, 0) < limit and e.load.viewers < e.max_viewers
            ),
            key=lambda e: (e.score, counts.get(e.node_id, 0), e.node_id),
        )
        return edges, open_edges, live

    async def _edge_for_listener(self, room_id: str, stage: NodeInfo) -> NodeInfo:
        """The least-loaded edge carrying the room with room left, adding an edge if none."""
        _, open_edges, _ = await self._open_edges(room_id, stage)
        if open_edges:
            return open_edges[0]
        async with self._room_lock(room_id):
            # Again under the lock: another API node may have just added an edge.
            edges, open_edges, live = await self._open_edges(room_id, stage)
            if open_edges:
                return open_edges[0]
            carrying = {e.node_id for e in edges}
            spare = sorted(
                (
                    n
                    for n in live.values()
                    if n.node_id not in carrying and n.load.viewers < n.max_viewers
                ),
                key=lambda n: (n.score, n.node_id),
            )
            if not spare:
                return min(edges, key=lambda e: (e.score, e.node_id))  # over the threshold
            edge = spare[0]
            await self._feed(room_id, stage, edge, live)
            await self.redis.hset(_room_key(room_id), f"edge:{edge.node_id}", edge.generation)
            log.info("room %s: edge added on media node %s", room_id, edge.node_id)
            return edge

    async def _drain(self, room_id: str, node_id: str) -> None:
        """An edge (not the stage node) with no listener of the room left stops carrying it."""
        async with self._room_lock(room_id):
            placement = await self._placement(room_id)
            count = await self.redis.hget(_viewers_key(room_id), node_id)
            if f"edge:{node_id}" not in placement or (count is not None and int(count) > 0):
                return
            if any(k.startswith("feed:") and v == node_id for k, v in placement.items()):
                return  # it relays to other edges: it goes once they have
            live = await self.registry.live()
            stage_id = self.stage_id(room_id)
            feeder = placement.get(f"feed:{node_id}", "stage")
            await self.redis.hdel(_room_key(room_id), f"edge:{node_id}", f"feed:{node_id}")
            stage = live.get(placement.get("stage", ""))
            with contextlib.suppress(MediaUnavailable):
                if feeder != "stage" and feeder in live:
                    path = f"/mountpoints/{stage_id}/relay/targets/{node_id}"
                    await self._call(live[feeder], "DELETE", path)
                elif stage is not None:
                    await self._call(stage, "DELETE", f"/stages/{stage_id}/forwards/{node_id}")
                if node_id in live:
                    await self._call(live[node_id], "DELETE", f"/mountpoints/{stage_id}")
            log.info("room %s: edge on media node %s drained", room_id, node_id)
        if feeder != "stage":
            self._spawn(self._drain(room_id, feeder))  # a relay left with nobody to feed

    async def end_stage(self, room_id: str) -> None:
        """The room ended: destroy its stage and mountpoints, forget its seats."""
        async with self._room_lock(room_id):
            placement = await self._placement(room_id)
            live = await self.registry.live()
            stage_id = self.stage_id(room_id)
            for key, node_id in placement.items():
                target = key[5:] if key.startswith("edge:") else node_id if key == "stage" else None
                if target is None or target not in live:
                    continue
                path = f"/stages/{stage_id}" if key == "stage" else f"/mountpoints/{stage_id}"
                with contextlib.suppress(MediaUnavailable):
                    await self._call(live[target], "DELETE", path)
            await self.redis.delete(_room_key(room_id), _seats_key(room_id), _viewers_key(room_id))
            await self.redis.srem(ROOMS_SET, room_id)

    # Seats ---------------------------------------------------------------------------------

    async def _seat(self, room_id: str, user_id: str) -> dict[str, str] | None:
        raw = await self.redis.hget(_seats_key(room_id), user_id)
        return json.loads(raw) if raw else None

    async def _record_seat(
        self, room_id: str, user_id: str, node: NodeInfo, seat_id: str, kind: str
    ) -> dict[str, str] | None:
        """Record a new seat and return the one it replaces (to be released)."""
        record = json.dumps(
            {"node": node.node_id, "gen": node.generation, "seat": seat_id, "kind": kind}
        )
        previous = await self._seat(room_id, user_id)
        await self.redis.hset(_seats_key(room_id), user_id, record)
        if kind == "audience":
            await self.redis.hincrby(_viewers_key(room_id), node.node_id, 1)
        if previous is not None and previous["kind"] == "audience":
            await self.redis.hincrby(_viewers_key(room_id), previous["node"], -1)
        return previous

    async def _release(self, room_id: str, seat: dict[str, str], *, kick: bool) -> None:
        live = await self.registry.live()
        node = live.get(seat["node"])
        if node is not None and node.generation == seat["gen"]:
            with contextlib.suppress(MediaUnavailable):
                await self._call(node, "DELETE", f"/seats/{seat['seat']}?kick={str(kick).lower()}")
        if seat["kind"] == "audience" and node is not None:
            self._spawn(self._drain(room_id, seat["node"]))

    async def _drop_seat(self, room_id: str, user_id: str, *, kick: bool) -> None:
        seat = await self._seat(room_id, user_id)
        if seat is None:
            return
        if await self.redis.hdel(_seats_key(room_id), user_id) and seat["kind"] == "audience":
            await self.redis.hincrby(_viewers_key(room_id), seat["node"], -1)
        await self._release(room_id, seat, kick=kick)

    async def _place_of(self, room_id: str, user_id: str) -> repo.Place:
        async with self.db.read_sessions() as session:
            return await repo.place_of(session, room_id, user_id)

    def _new_seat_id(self, room_id: str, user_id: str) -> str:
        return f"{room_id}.{user_id}.{secrets.token_hex(4)}"

    async def speak(self, room_id: str, user_id: str, offer: Json) -> tuple[Json, bool]:
        """Join the room's stage (wherever it is) with the caller's offer."""
        stage = await self.ensure_stage(room_id)
        place = await self._place_of(room_id, user_id)
        check_place(place, on_stage=True)
        seat_id = self._new_seat_id(room_id, user_id)
        reply = await self._call(
            stage,
            "POST",
            f"/seats/{seat_id}/speak",
            {"stage_id": self.stage_id(room_id), "offer": offer, "muted": place.muted},
        )
        previous = await self._record_seat(room_id, user_id, stage, seat_id, "stage")
        if previous is not None:
            await self._release(room_id, previous, kick=previous["kind"] == "stage")
        # A mute committed between the read above and the join is applied here.
        await self.sync_seat(room_id, user_id)
        return public_jsep(reply["answer"]), place.muted

    async def listen(self, room_id: str, user_id: str) -> Json:
        """A receive-only seat on the least-loaded edge carrying the room: its offer."""
        stage = await self.ensure_stage(room_id)
        check_place(await self._place_of(room_id, user_id), on_stage=False)
        edge = await self._edge_for_listener(room_id, stage)
        seat_id = self._new_seat_id(room_id, user_id)
        reply = await self._call(
            edge, "POST", f"/seats/{seat_id}/watch", {"stage_id": self.stage_id(room_id)}
        )
        previous = await self._record_seat(room_id, user_id, edge, seat_id, "audience")
        if previous is not None:
            await self._release(room_id, previous, kick=previous["kind"] == "stage")
        return public_jsep(reply["offer"])

    async def answer(self, room_id: str, user_id: str, answer: Json) -> None:
        """The listener's answer to the offer from ``listen``: the stream starts."""
        check_place(await self._place_of(room_id, user_id), on_stage=False)
        seat = await self._seat(room_id, user_id)
        live = await self.registry.live()
        if seat is None or seat["kind"] != "audience":
            raise NoOfferToAnswer()
        node = live.get(seat["node"])
        if node is None or node.generation != seat["gen"]:
            raise MediaUnavailable()
        await self._call(node, "POST", f"/seats/{seat['seat']}/start", {"answer": answer})

    async def trickle(
        self, room_id: str, user_id: str, candidates: list[Json], *, completed: bool
    ) -> None:
        """Forward the caller's trickled ICE candidates to their own seat, wherever it is."""
        place = await self._place_of(room_id, user_id)
        seat = await self._seat(room_id, user_id)
        check_place(place, on_stage=seat is not None and seat["kind"] == "stage")
        live = await self.registry.live()
        node = live.get(seat["node"]) if seat is not None else None
        if seat is None or node is None or node.generation != seat["gen"]:
            raise NoConnectionToTrickle()
        await self._call(
            node,
            "POST",
            f"/seats/{seat['seat']}/candidates",
            {"candidates": candidates, "completed": completed},
            conflict=NoConnectionToTrickle,
        )

    async def hang_up(self, room_id: str, user_id: str) -> None:
        """Drop the caller's audio connection in this room, if any."""
        await self._drop_seat(room_id, user_id, kick=True)

    async def sync_seat(self, room_id: str, user_id: str) -> None:
        """Make someone's seat match the database: drop it, kick it off stage, (un)mute it."""
        seat = await self._seat(room_id, user_id)
        if seat is None:
            return
        place = await self._place_of(room_id, user_id)
        if seat["kind"] == "audience":
            if not place.present:
                await self._drop_seat(room_id, user_id, kick=False)
            return
        if not place.on_stage:
            await self._drop_seat(room_id, user_id, kick=True)
            return
        live = await self.registry.live()
        node = live.get(seat["node"])
        if node is not None and node.generation == seat["gen"]:
            await self._call(node, "POST", f"/seats/{seat['seat']}/mute", {"muted": place.muted})

    # Events --------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._quietly(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _quietly(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception:
            log.exception("media pool work failed")

    async def _consume(self) -> None:
        while True:
            with self.bus.subscribe(None) as subscription:
                while True:
                    event = await subscription.get()
                    if event is None:
                        break  # events were lost: seats are re-checked on the next change
                    if isinstance(event, ActiveSpeaker):
                        self._active[event.room_id] = event.user_id
                    elif isinstance(event, Ended):
                        self._forget_talk(event.room_id)
                    if isinstance(
                        event,
                        RoomCreated
                        | Ended
                        | ParticipantLeft
                        | Removed
                        | RoleChanged
                        | Muted
                        | Unmuted,
                    ):
                        self._spawn(self._apply(event))

    async def _apply(self, event: RoomEventBase) -> None:
        # Every API node sees every event: the first to claim it applies it.
        claimed = await self.redis.set(
            f"mitalk:media:applied:{event.room_id}:{event.seq}", self.me, nx=True, ex=300
        )
        if not claimed:
            return
        if isinstance(event, RoomCreated):
            with contextlib.suppress(MediaUnavailable):
                await self.ensure_stage(event.room_id)
        elif isinstance(event, Ended):
            await self.end_stage(event.room_id)
        elif isinstance(event, ParticipantLeft | Removed | RoleChanged | Muted | Unmuted):
            with contextlib.suppress(MediaUnavailable):
                await self.sync_seat(event.room_id, event.user_id)

    # Who is talking -------------------------------------------------------------------------

    async def _follow_talking(self) -> None:
        """Agents say who talks on their stages; the leading API node names the active speaker
        (``room.active_speaker``, at most one per room every ACTIVE_SPEAKER_MIN_INTERVAL)."""
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(TALKING_CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and self.leading:
                            await self._on_talking(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following who talks failed; again in a second")
                await asyncio.sleep(1.0)

    def _forget_talk(self, room_id: str) -> None:
        """An ended room: drop what was kept of who talks in it (nothing grows without end)."""
        self._active.pop(room_id, None)
        talk = self._talk.pop(room_id, None)
        if talk is not None and talk.flush is not None:
            talk.flush.cancel()
        stage_id = self.stage_id(room_id)
        for key in [k for k in self._talk_versions if k[2] == stage_id]:
            del self._talk_versions[key]

    async def _on_talking(self, message: dict[str, Any]) -> None:
        """One agent's list of who talks on one of its stages, newest last."""
        key = (str(message["node"]), str(message["generation"]), int(message["stage"]))
        version = int(message["version"])
        if version <= self._talk_versions.get(key, 0):
            return  # an older word from that agent arrived late
        self._talk_versions[key] = version
        talking: list[tuple[str, str]] = []
        for seat_id in message["talking"]:
            room_id, _, rest = str(seat_id).partition(".")
            user_id = rest.rpartition(".")[0]
            seat = await self._seat(room_id, user_id) if user_id else None
            # Only the seat the pool placed and still records: never a stale or foreign one.
            if seat is not None and seat["seat"] == seat_id and seat["node"] == key[0]:
                talking.append((room_id, user_id))
        rooms = {room for room, _ in talking} or {
            room for room in self._talk if self.stage_id(room) == key[2]
        }
        for room_id in rooms:
            talk = self._talk.setdefault(room_id, RoomTalk())
            talk.talking = dict.fromkeys(user for room, user in talking if room == room_id)
            if talk.flush is None:
                loop = asyncio.get_running_loop()
                delay = max(0.0, talk.published_at + ACTIVE_SPEAKER_MIN_INTERVAL - loop.time())
                talk.flush = asyncio.create_task(self._publish_speaker(room_id, talk, delay))
                self._tasks.add(talk.flush)
                talk.flush.add_done_callback(self._tasks.discard)

    async def _publish_speaker(self, room_id: str, talk: RoomTalk, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            talk.flush = None
        active = talk.active
        if active == talk.published:
            return
        talk.published = active
        talk.published_at = asyncio.get_running_loop().time()
        try:
            await self.bus.publish(ActiveSpeaker(room_id=room_id, at=utcnow(), user_id=active))
        except Exception:
            log.exception("could not publish the active speaker of room %s", room_id)

    # Failure -------------------------------------------------------------------------------

    async def _watch_nodes(self) -> None:
        lease = int(max(DEAD_AFTER_SECONDS, 1.0) * 1000)
        while True:
            try:
                mine = await self.redis.set(MONITOR_LEASE, self.me, nx=True, px=lease)
                if not mine and await self.redis.get(MONITOR_LEASE) == self.me.encode():
                    await self.redis.pexpire(MONITOR_LEASE, lease)
                    mine = True
                self.leading = bool(mine)
                if mine:
                    await self.check_nodes()
                    due = time.monotonic() - self._swept_at >= SWEEP_SECONDS
                    if due and (self._sweeping is None or self._sweeping.done()):
                        self._swept_at = time.monotonic()
                        self._sweeping = asyncio.create_task(self._quietly(self.sweep()))
                        self._tasks.add(self._sweeping)
                        self._sweeping.add_done_callback(self._tasks.discard)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("media node check failed")
            await asyncio.sleep(MONITOR_INTERVAL)

    async def check_nodes(self) -> None:
        """Move what dead (or restarted) media nodes held: stages, edges, seats."""
        live = await self.registry.live()
        for raw in await self.redis.smembers(ROOMS_SET):
            room_id = _text(raw)
            placement = await self._placement(room_id)
            dead = {
                key[5:]
                for key, gen in placement.items()
                if key.startswith("edge:") and not self._alive(live, key[5:], gen)
            }
            stage_dead = "stage" in placement and not self._alive(
                live, placement["stage"], placement.get("stage_gen")
            )
            if stage_dead:
                dead.add(placement["stage"])
            seats = {
                _text(k): json.loads(v)
                for k, v in (await self.redis.hgetall(_seats_key(room_id))).items()
            }
            lost = [
                user
                for user, seat in seats.items()
                if not self._alive(live, seat["node"], seat["gen"])
            ]
            if not dead and not lost:
                continue
            self.failovers += 1
            for node_id in dead:
                await self.redis.hdel(_room_key(room_id), f"edge:{node_id}", f"feed:{node_id}")
                await self.redis.hdel(_viewers_key(room_id), node_id)
            if lost:
                await self.redis.hdel(_seats_key(room_id), *lost)
            if dead and not stage_dead:
                # A dead relay edge: the edges it fed are fed again (by the stage or another).
                try:
                    async with self._room_lock(room_id):
                        stage = live[placement["stage"]]
                        await self._repair_feeds(room_id, stage, live, restage=False)
                except (MediaUnavailable, KeyError):
                    log.exception("room %s: edges fed by a dead relay not fed again", room_id)
            if stage_dead:
                async with self.db.read_sessions() as session:
                    room = await rooms_repo.room_by_id(session, room_id)
                if room is None or room.status != "live":
                    await self.end_stage(room_id)
                    continue
                try:
                    await self.ensure_stage(room_id)
                except MediaUnavailable:
                    log.error("room %s lost its stage and no media node can take it", room_id)
                    continue
            log.warning(
                "media nodes %s gone: room %s, %d people reconnect",
                sorted(dead),
                room_id,
                len(lost),
            )
            if lost:
                await self.bus.publish(
                    MediaReconnect(
                        room_id=room_id,
                        at=utcnow(),
                        recipients=Recipients(scope="users", user_ids=sorted(lost)),
                    )
                )

    # The sweep -----------------------------------------------------------------------------

    async def sweep(self) -> None:
        """Compare what Redis records with what the live agents hold, and mend the difference
        (see SWEEP_SECONDS): a room named but not placed gets its stage; a stage, an edge's
        mountpoint, a forward or a seat gone from its node is made again or its people are
        told to reconnect; what a node holds that nothing records is removed."""
        live = await self.registry.live()
        rooms = sorted(_text(r) for r in await self.redis.smembers(ROOMS_SET))
        # Redis first, then the agents: anything recorded before the agents were asked and
        # missing from what they answer is really missing (not merely not yet made).
        recorded: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]] = {}
        for room_id in rooms:
            seats = {
                _text(k): json.loads(v)
                for k, v in (await self.redis.hgetall(_seats_key(room_id))).items()
            }
            recorded[room_id] = (await self._placement(room_id), seats)
        states: dict[str, Json] = {}
        for node in live.values():
            with contextlib.suppress(MediaUnavailable):
                state = await self._call(node, "GET", "/state")
                if state.get("generation") == node.generation:
                    states[node.node_id] = state
        suspects: set[tuple[str, ...]] = set()
        for room_id, (placement, seats) in recorded.items():
            suspects |= self._missing(room_id, placement, seats, live, states)
        confirmed, self._suspects = suspects & self._suspects, suspects
        for room_id in sorted({key[1] for key in confirmed}):
            await self._mend(room_id, {key for key in confirmed if key[1] == room_id}, live)
        await self._remove_orphans(recorded, states, live)

    def _missing(
        self,
        room_id: str,
        placement: dict[str, str],
        seats: dict[str, dict[str, str]],
        live: dict[str, NodeInfo],
        states: dict[str, Json],
    ) -> set[tuple[str, ...]]:
        """What Redis records of a room that its (live, answering) node does not hold."""
        stage_id = str(self.stage_id(room_id))
        found: set[tuple[str, ...]] = set()
        stage = placement.get("stage")
        if stage is None:
            found.add(("unplaced", room_id))
        elif stage in states and stage_id not in states[stage]["stages"]:
            found.add(("stage", room_id, stage))
        for key, generation in placement.items():
            edge = key[5:]
            if not key.startswith("edge:") or edge not in states:
                continue
            if not self._alive(live, edge, generation):
                continue  # dead nodes are check_nodes' business
            if int(stage_id) not in states[edge]["mountpoints"]:
                found.add(("edge", room_id, edge))
                continue
            feeder = placement.get(f"feed:{edge}", "stage")
            if feeder == "stage" and stage in states:
                fed = edge in states[stage]["stages"].get(stage_id, [edge])
            elif feeder in states:
                fed = edge in states[feeder].get("relays", {}).get(stage_id, [edge])
            else:
                fed = True  # its feeder is dead: check_nodes feeds it again
            if not fed:
                found.add(("feed", room_id, edge))
        for user_id, seat in seats.items():
            state = states.get(seat["node"])
            if state is None or state["generation"] != seat["gen"]:
                continue  # not answering, or a dead generation: check_nodes' business
            if seat["seat"] not in state["seats"]:
                found.add(("seat", room_id, user_id, seat["seat"]))
        return found

    async def _mend(
        self, room_id: str, problems: set[tuple[str, ...]], live: dict[str, NodeInfo]
    ) -> None:
        """Repair what two sweeps in a row found missing in one room."""
        self.repairs += 1
        log.warning("room %s: repairing %s", room_id, sorted(problems))
        lost: set[str] = set()
        seats = {
            _text(k): json.loads(v)
            for k, v in (await self.redis.hgetall(_seats_key(room_id))).items()
        }
        gone_nodes = {p[2] for p in problems if p[0] in ("stage", "edge")}
        for problem in problems:
            if problem[0] == "seat" and seats.get(problem[2], {}).get("seat") == problem[3]:
                lost.add(problem[2])
        lost |= {u for u, seat in seats.items() if seat["node"] in gone_nodes}
        if lost:
            await self.redis.hdel(_seats_key(room_id), *lost)
            for user in lost:
                if seats[user]["kind"] == "audience":
                    await self.redis.hincrby(_viewers_key(room_id), seats[user]["node"], -1)
        try:
            if any(p[0] in ("unplaced", "stage") for p in problems):
                async with self._room_lock(room_id):
                    placement = await self._placement(room_id)
                    if placement.get("stage") in gone_nodes or "stage" not in placement:
                        await self.redis.hdel(_room_key(room_id), "stage", "stage_gen")
                try:
                    await self.ensure_stage(room_id)
                except MediaUnavailable:
                    async with self.db.read_sessions() as session:
                        room = await rooms_repo.room_by_id(session, room_id)
                    if room is None or room.status != "live":
                        await self.end_stage(room_id)
                        return
                    raise
            edges = {p[2] for p in problems if p[0] == "edge"}
            feeds = {p[2] for p in problems if p[0] == "feed"} - edges
            if edges or feeds:
                async with self._room_lock(room_id):
                    placement = await self._placement(room_id)
                    for edge in edges:
                        await self.redis.hdel(_room_key(room_id), f"edge:{edge}", f"feed:{edge}")
                        await self.redis.hdel(_viewers_key(room_id), edge)
                    stage = live.get(placement.get("stage", ""))
                    if stage is not None:
                        for edge in feeds:
                            if f"edge:{edge}" in placement and edge in live:
                                await self.redis.hdel(_room_key(room_id), f"feed:{edge}")
                                await self._feed(room_id, stage, live[edge], live)
                        await self._repair_feeds(room_id, stage, live, restage=False)
        except MediaUnavailable:
            log.warning("room %s: repair failed; the next sweep tries again", room_id)
        if lost:
            await self.bus.publish(
                MediaReconnect(
                    room_id=room_id,
                    at=utcnow(),
                    recipients=Recipients(scope="users", user_ids=sorted(lost)),
                )
            )

    async def _remove_orphans(
        self,
        recorded: dict[str, tuple[dict[str, str], dict[str, dict[str, str]]]],
        states: dict[str, Json],
        live: dict[str, NodeInfo],
    ) -> None:
        """Remove from the agents what nothing records, once it stayed so for the grace."""
        wanted: set[tuple[str, ...]] = set()
        for room_id, (placement, seats) in recorded.items():
            stage_id = str(self.stage_id(room_id))
            if "stage" in placement:
                wanted.add(("stage", placement["stage"], stage_id))
            for field_name in placement:
                if field_name.startswith("edge:"):
                    edge = field_name[5:]
                    wanted.add(("mountpoint", edge, stage_id))
                    if placement.get(f"feed:{edge}", "stage") == "stage":
                        wanted.add(("forward", placement.get("stage", ""), stage_id, edge))
            for seat in seats.values():
                wanted.add(("seat", seat["node"], seat["seat"]))
        held: set[tuple[str, ...]] = set()
        for node_id, state in states.items():
            for stage_id, forwards in state["stages"].items():
                held.add(("stage", node_id, stage_id))
                held |= {("forward", node_id, stage_id, edge) for edge in forwards}
            held |= {("mountpoint", node_id, str(m)) for m in state["mountpoints"]}
            held |= {("seat", node_id, seat_id) for seat_id in state["seats"]}
        now = time.monotonic()
        orphans = held - wanted
        self._orphans = {key: self._orphans.get(key, now) for key in orphans}
        for key, since in list(self._orphans.items()):
            if now - since < ORPHAN_GRACE_SECONDS or key[1] not in live:
                continue
            node = live[key[1]]
            path = {
                "stage": lambda k: f"/stages/{k[2]}",
                "forward": lambda k: f"/stages/{k[2]}/forwards/{k[3]}",
                "mountpoint": lambda k: f"/mountpoints/{k[2]}",
                "seat": lambda k: f"/seats/{k[2]}?kick=true",
            }[key[0]](key)
            log.warning("media node %s holds %s that nothing records: removed", key[1], key)
            with contextlib.suppress(MediaUnavailable):
                await self._call(node, "DELETE", path)
            del self._orphans[key]
