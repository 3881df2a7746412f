"""The media node registry in Redis: who is alive, where, with what capacity and load.

A media node's agent writes its record every ``HEARTBEAT_SECONDS`` with a time to live of
``DEAD_AFTER_SECONDS``: a node that falls silent (crashed, killed, link cut) simply expires,
and every API node sees it gone at the next read. No cluster software: one key per node and
one set of names, both plain Redis.

A record also carries the node's ``generation`` (a random id per agent start): a node that
comes back after a crash is a new generation, so API nodes know its Janus has nothing of
what the previous one held.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
from typing import TYPE_CHECKING

from pydantic import BaseModel

from mitalk.core.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

HEARTBEAT_SECONDS = 0.5
# Silent this long: dead. Three heartbeats missed, so a busy node is not declared dead by one
# late write, and an edge's listeners still hear again within 5 s (detection + reconnect).
DEAD_AFTER_SECONDS = 2.0

NODES_SET = "mitalk:media:nodes"
# Agents publish here who talks on each of their stages (seat ids, in the order they began).
TALKING_CHANNEL = "mitalk:media:talking"


def node_key(node_id: str) -> str:
    """The Redis key of one node's record."""
    return f"mitalk:media:node:{node_id}"


class NodeLoad(BaseModel):
    """What a media node holds right now."""

    cpu_pct: float = 0.0  # its Janus's CPU over the last heartbeat, % of one core
    seats: int = 0  # AudioBridge participants (speakers)
    viewers: int = 0  # Streaming viewers (listeners)
    stages: int = 0
    mountpoints: int = 0


class NodeInfo(BaseModel):
    """One media node's record in the registry."""

    node_id: str
    address: str
    agent_url: str
    generation: str
    max_viewers: int
    max_seats: int
    load: NodeLoad = NodeLoad()
    # Where clients reach this node's managed coturn (MITALK_TURN=managed), while it runs.
    turn_urls: list[str] = []

    @property
    def score(self) -> float:
        """How full the node is, 0 (idle) to 1 (at capacity): the least-loaded goes first."""
        return max(
            self.load.viewers / max(self.max_viewers, 1),
            self.load.seats / max(self.max_seats, 1),
            self.load.cpu_pct / 100.0,
        )


def agent_token(settings: Settings) -> str:
    """The bearer token API nodes show a media node's agent: derived from the shared key."""
    digest = hmac.new(settings.resolved_secret_key, b"mitalk-media-agent", hashlib.sha256)
    return digest.hexdigest()


def pool_turn_secret(settings: Settings) -> str:
    """The TURN shared secret of a pool: MITALK_TURN_SECRET, else derived from the shared key,
    so every media node's coturn accepts the credentials any API node hands out."""
    if settings.turn_secret:
        return settings.turn_secret.get_secret_value()
    digest = hmac.new(settings.resolved_secret_key, b"mitalk-media-turn", hashlib.sha256)
    return digest.hexdigest()


def this_node_id(settings: Settings) -> str:
    """This node's name in the registry."""
    return settings.node_id or f"{socket.gethostname()}-{settings.node_address or 'local'}"


class NodeRegistry:
    """Read and write media node records."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def heartbeat(self, info: NodeInfo) -> None:
        """Write (or refresh) a node's record; it expires unless written again in time."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(
                node_key(info.node_id), info.model_dump_json(), px=int(DEAD_AFTER_SECONDS * 1000)
            )
            pipe.sadd(NODES_SET, info.node_id)
            await pipe.execute()

    async def leave(self, node_id: str) -> None:
        """A node that stops in order removes itself at once."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(node_key(node_id))
            pipe.srem(NODES_SET, node_id)
            await pipe.execute()

    async def live(self) -> dict[str, NodeInfo]:
        """Every node whose record has not expired, by id."""
        names = sorted(str(n, "utf-8") if isinstance(n, bytes) else str(n)
                       for n in await self.redis.smembers(NODES_SET))  # fmt: skip
        if not names:
            return {}
        records = await self.redis.mget([node_key(n) for n in names])
        nodes: dict[str, NodeInfo] = {}
        gone = []
        for name, record in zip(names, records, strict=True):
            if record is None:
                gone.append(name)
            else:
                nodes[name] = NodeInfo.model_validate_json(record)
        if gone:
            await self.redis.srem(NODES_SET, *gone)
        return nodes
