"""Capacity model: how many API, media, Redis and PostgreSQL nodes a launch needs.

    python bench/capacity.py                       # the example launch (below)
    python bench/capacity.py --listeners 250000 --rooms 400 --largest 30000 --node-cores 16
    python bench/capacity.py --figures my-figures.json   # per-node figures measured elsewhere

Given per-node figures (``FIGURES``: what the benchmarks in this folder measured, and a few
marked *assumed* where nothing here measured them yet; docs/scale.md says which and how) and a
launch (listeners joining over a window, rooms with a long-tailed size distribution, one very
large room, a claim window), it prints:

- the nodes each tier needs, and what limits each tier first (CPU, memory, bandwidth, sockets,
  requests, fan-out, operations/s);
- the placement: every room's stage and edges, packed onto media nodes;
- what saturates first across the whole deployment at the launch's peak.

No randomness: the room sizes follow a Zipf-like law fitted to the total, the same every run.
Ends with one JSON line (``api_nodes``, ``media_nodes``, ``redis_nodes``, ``postgres_nodes``,
``first_to_saturate``).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Per-node figures. "measured": printed by the named benchmark on the 2-core test machine (see
# bench/README.md and docs/scale.md for the runs); "assumed": no benchmark here yet, a
# conservative value for the hardware named, to be replaced by a measurement.
FIGURES: dict[str, dict[str, Any]] = {
    # Media node (Janus 1.1.2, event_loops = 2).
    "janus_cpu_pct_per_listener": {
        "value": 0.15,
        "source": (
            "measured: audience.py --client swarm, 100 viewers (0.121-0.145); aiortc 25 "
            "viewers 0.097-0.169; cascade.py, 500 swarm listeners over 3 nodes 0.074 (the "
            "larger figure kept)"
        ),
    },
    "janus_cpu_pct_per_speaker": {
        "value": 1.0,
        "source": "measured: JANUS-NOTES.md (AudioBridge, one Opus encode per participant)",
    },
    "listener_kbit_s": {
        "value": 80.0,
        "source": (
            "measured: ~50 packets/s of 120-160 B Opus payloads + IP/UDP/SRTP headers "
            "(swarm byte counts)"
        ),
    },
    "forward_kbit_s": {
        "value": 80.0,
        "source": "the same stream once per edge (stage -> edge, SRTP)",
    },
    "media_cpu_headroom": {
        "value": 0.7,
        "source": "assumed: keep 30 % of the cores free for bursts of joins (DTLS handshakes)",
    },
    "edge_failover_s": {
        "value": 3.9,
        "source": "measured: tests/scale/test_pool.py (edge 2.3-3.5 s, stage node 2.7-3.9 s)",
    },
    # API node (one process per core).
    "kib_per_socket": {
        "value": 51.0,
        "source": "measured: sockets.py (peak RSS growth per room socket)",
    },
    "sockets_fanout_per_process": {
        "value": 10_000,
        "source": (
            "measured: sockets.py at 10,000 sockets with the direct fan-out (2026-11-29): 22 us "
            "of server CPU per event delivered to one socket beyond holding the sockets idle "
            "(38 us all told; about 8 us of it is the loopback send itself): 250 ms / 22 us "
            "~ 11,000 on a core of its own, held at the 10,000 measured (p99 490 ms there, "
            "on 2 cores shared at load 6)"
        ),
    },
    "join_requests_per_listener": {
        "value": 4,
        "source": "the protocol: POST join, room WebSocket, POST listen, POST answer",
    },
    "requests_per_s_per_process": {
        "value": 600.0,
        "source": (
            "measured: rush.py, claim path over HTTP with PostgreSQL + Redis (603/s per 2 "
            "workers); a join touches the database like a claim"
        ),
    },
    "claims_per_s_per_process": {
        "value": 585.0,
        "source": (
            "measured: rush.py --db postgres --redis --sweep 1,2 (1 process 585/s, 2 processes "
            "977/s, efficiency 0.84, shared 2 cores; docs/scale.md)"
        ),
    },
    "api_memory_gib": {
        "value": 4.0,
        "source": "assumed: memory one API process may use for sockets",
    },
    # Stores.
    "redis_ops_per_s": {
        "value": 80_000.0,
        "source": (
            "assumed: one Redis core with pipelining off (redis-benchmark order of magnitude)"
        ),
    },
    "redis_ops_per_join": {
        "value": 12,
        "source": (
            "counted in media/pool.py: registry read, placement, seat record, viewer count, "
            "event seq and publish"
        ),
    },
    "postgres_writes_per_s": {
        "value": 4_000.0,
        "source": (
            "assumed: small transactions on one 8-core PostgreSQL node with synchronous_commit on"
        ),
    },
    "postgres_writes_per_join": {
        "value": 2,
        "source": (
            "counted: participant row + room seq bump in one transaction, plus the leave later"
        ),
    },
}


@dataclass(frozen=True)
class Launch:
    """What the deployment must carry at its peak."""

    listeners: int
    join_minutes: float
    rooms: int
    largest: int
    speakers_per_room: int
    claim_passes: int
    claim_seconds: float
    node_cores: int
    node_gbit: float

    @property
    def joins_per_s(self) -> float:
        return self.listeners / (self.join_minutes * 60)


def room_sizes(launch: Launch) -> list[int]:
    """Listeners per room: the largest given, the rest Zipf-like (1/rank), summing to the total."""
    rest = launch.listeners - launch.largest
    count = launch.rooms - 1
    if count <= 0 or rest < count:
        raise SystemExit("need more listeners than rooms, and at least two rooms")
    weights = [1 / (rank + 1) for rank in range(1, count + 1)]  # rank 1 is the largest room
    total = sum(weights)
    sizes = [max(1, int(rest * w / total)) for w in weights]
    sizes[0] += rest - sum(sizes)  # rounding goes to the second-largest room
    return [launch.largest, *sizes]


def figure(name: str) -> float:
    return float(FIGURES[name]["value"])


@dataclass
class MediaNode:
    """One media node in the packing: listeners and streams it carries."""

    listeners: int = 0
    speakers: int = 0
    forwards_out: int = 0  # stage -> edge streams it sends
    streams_in: int = 0

    def cpu_pct(self) -> float:
        return self.listeners * figure("janus_cpu_pct_per_listener") + self.speakers * figure(
            "janus_cpu_pct_per_speaker"
        )

    def mbit(self) -> float:
        return (
            self.listeners * figure("listener_kbit_s")
            + (self.forwards_out + self.streams_in) * figure("forward_kbit_s")
        ) / 1000


def media_plan(launch: Launch, sizes: list[int]) -> dict[str, Any]:
    """Stages and edges packed onto media nodes; the limit per node and what binds it.

    Each room is cut into edges of at most ``listeners_per_node`` listeners; the stage (its
    speakers' AudioBridge seats and the forwards to its other edges) sits with its first edge.
    Parts are packed first-fit, largest first, by CPU and by network, so a node full of small
    rooms' stages is as bounded as one carrying a slice of a large room.
    """
    cpu_budget = launch.node_cores * 100 * figure("media_cpu_headroom")
    nic_budget = launch.node_gbit * 1000  # Mbit/s
    by_cpu = int(cpu_budget / figure("janus_cpu_pct_per_listener"))
    by_nic = int(nic_budget * 1000 / figure("listener_kbit_s"))
    per_node = min(by_cpu, by_nic)
    binding = "CPU" if by_cpu <= by_nic else "network"
    nodes: list[MediaNode] = []

    def fits(node: MediaNode, listeners: int, speakers: int, streams: int) -> bool:
        trial = MediaNode(node.listeners + listeners, node.speakers + speakers,
                          node.forwards_out + streams, node.streams_in)  # fmt: skip
        return trial.cpu_pct() <= cpu_budget and trial.mbit() <= nic_budget

    placements = []
    for room, size in sorted(enumerate(sizes), key=lambda item: -item[1]):
        edges = max(1, math.ceil(size / per_node))
        share = [size // edges + (1 if i < size % edges else 0) for i in range(edges)]
        used: list[int] = []
        for index, part in enumerate(share):
            speakers = launch.speakers_per_room if index == 0 else 0
            streams = edges - 1 if index == 0 else 1
            spot = next(
                (i for i, n in enumerate(nodes)
                 if i not in used and fits(n, part, speakers, streams)),
                None,
            )  # fmt: skip
            if spot is None:
                nodes.append(MediaNode())
                spot = len(nodes) - 1
            node = nodes[spot]
            node.listeners += part
            node.speakers += speakers
            if index == 0:
                node.forwards_out += edges - 1
            else:
                node.streams_in += 1
            used.append(spot)
        placements.append(
            {"room": room, "listeners": size, "edges": len(used), "stage_node": used[0]}
        )
    return {
        "nodes": len(nodes),
        "listeners_per_node": per_node,
        "binding": binding,
        "by_cpu": by_cpu,
        "by_nic": by_nic,
        "busiest_cpu_pct": max(n.cpu_pct() for n in nodes) / launch.node_cores,
        "cpu_used": sum(n.cpu_pct() for n in nodes) / (len(nodes) * cpu_budget),
        "nic_used": sum(n.mbit() for n in nodes) / (len(nodes) * nic_budget),
        "busiest_mbit": max(n.mbit() for n in nodes),
        "placements": sorted(placements, key=lambda p: -int(p["listeners"])),
        "largest_room_edges": max(int(p["edges"]) for p in placements),
    }


def api_plan(launch: Launch) -> dict[str, Any]:
    """API processes needed by sockets held, join requests, and claims; the largest wins."""
    sockets = launch.listeners + launch.rooms * launch.speakers_per_room
    by_memory = sockets * figure("kib_per_socket") / (figure("api_memory_gib") * 1024 * 1024)
    by_fanout = sockets / figure("sockets_fanout_per_process")
    requests = launch.joins_per_s * figure("join_requests_per_listener")
    by_requests = requests / figure("requests_per_s_per_process")
    claims = launch.claim_passes / launch.claim_seconds
    by_claims = claims / figure("claims_per_s_per_process")
    needs = {
        "sockets in memory": by_memory,
        "event fan-out (sockets per process)": by_fanout,
        "join requests": by_requests,
        "claim window": by_claims,
    }
    binding = max(needs, key=lambda k: needs[k])
    processes = math.ceil(max(needs.values()))
    return {
        "processes": processes,
        "nodes": math.ceil(processes / launch.node_cores),
        "binding": binding,
        "needs": {k: round(v, 1) for k, v in needs.items()},
        "sockets": sockets,
        "join_requests_per_s": round(requests),
        "claims_per_s": round(claims),
    }


def store_plan(launch: Launch) -> dict[str, Any]:
    """Redis and PostgreSQL nodes from operations per second at the peak."""
    claims = launch.claim_passes / launch.claim_seconds
    redis_ops = launch.joins_per_s * figure("redis_ops_per_join") + claims * 3
    pg_writes = launch.joins_per_s * figure("postgres_writes_per_join") + claims
    return {
        "redis_ops_per_s": round(redis_ops),
        "redis_nodes": max(1, math.ceil(redis_ops / figure("redis_ops_per_s"))),
        "redis_load": redis_ops / figure("redis_ops_per_s"),
        "postgres_writes_per_s": round(pg_writes),
        "postgres_nodes": max(1, math.ceil(pg_writes / figure("postgres_writes_per_s"))),
        "postgres_load": pg_writes / figure("postgres_writes_per_s"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=1_000_000)
    parser.add_argument("--join-minutes", type=float, default=10.0)
    parser.add_argument("--rooms", type=int, default=1_000)
    parser.add_argument(
        "--largest", type=int, default=100_000, help="listeners of the largest room"
    )
    parser.add_argument("--speakers", type=int, default=5, help="speakers per room")
    parser.add_argument("--claim-passes", type=int, default=50_000)
    parser.add_argument("--claim-seconds", type=float, default=5.0)
    parser.add_argument("--node-cores", type=int, default=8, help="cores of every node")
    parser.add_argument("--node-gbit", type=float, default=1.0, help="network of a media node")
    parser.add_argument("--figures", type=Path, help="JSON {name: value} overriding FIGURES")
    args = parser.parse_args()
    if args.figures:
        for name, value in json.loads(args.figures.read_text()).items():
            if name not in FIGURES:
                parser.error(f"unknown figure {name!r}; known: {', '.join(FIGURES)}")
            FIGURES[name] = {"value": value, "source": f"given in {args.figures}"}
    launch = Launch(
        args.listeners, args.join_minutes, args.rooms, args.largest, args.speakers,
        args.claim_passes, args.claim_seconds, args.node_cores, args.node_gbit,
    )  # fmt: skip
    sizes = room_sizes(launch)
    media, api, stores = media_plan(launch, sizes), api_plan(launch), store_plan(launch)

    print(f"Launch: {launch.listeners:,} listeners joining over {launch.join_minutes:g} min "
          f"({launch.joins_per_s:,.0f}/s), {launch.rooms:,} rooms (largest {launch.largest:,}, "
          f"then {sizes[1]:,}, {sizes[2]:,}, ... smallest {min(sizes):,}), "
          f"{launch.claim_passes:,} passes claimed in {launch.claim_seconds:g} s; "
          f"nodes of {launch.node_cores} cores")  # fmt: skip
    print()
    print("Per-node figures used:")
    for name, item in FIGURES.items():
        print(f"  {name:32} {item['value']:>10}  ({item['source']})")
    print()
    print(f"Media nodes: {media['nodes']}  ({media['listeners_per_node']:,} listeners each, "
          f"bound by {media['binding']}: {media['by_cpu']:,} by CPU, {media['by_nic']:,} by "
          f"network; busiest node {media['busiest_cpu_pct']:.0f} % CPU, "
          f"{media['busiest_mbit']:.0f} Mbit/s)")  # fmt: skip
    print(f"API nodes: {api['nodes']}  ({api['processes']} processes; needs by "
          + ", ".join(f"{k} {v}" for k, v in api["needs"].items())
          + f"; bound by {api['binding']})")  # fmt: skip
    print(
        f"Redis nodes: {stores['redis_nodes']}  ({stores['redis_ops_per_s']:,} ops/s at the peak)"
    )
    print(f"PostgreSQL nodes: {stores['postgres_nodes']}  ({stores['postgres_writes_per_s']:,} "
          "writes/s at the peak; each node a primary for its share of rooms when more than one, "
          "plus replicas for reads)")  # fmt: skip
    print()
    print("Placement (largest rooms; each edge a media node carrying part of a room's audience):")
    for p in media["placements"][:8]:
        print(f"  room {p['room']:>4}: {p['listeners']:>7,} listeners on {p['edges']:>3} edge(s), "
              f"stage on node {p['stage_node']}")  # fmt: skip
    small = [p for p in media["placements"] if p["edges"] == 1]
    print(
        f"  ... {len(small)} rooms fit on one edge each, packed "
        f"{len(small) / max(1, media['nodes'] - media['largest_room_edges']):.1f} rooms per node"
    )
    # What saturates first as the launch grows past this plan: the tier using the largest share
    # of what its provisioned nodes can do (rounding up and packing leave some tiers slack).
    loads = {
        f"media nodes ({media['binding']})": max(media["cpu_used"], media["nic_used"]),
        f"API processes ({api['binding']})": max(api["needs"].values()) / api["processes"],
        "Redis (ops/s)": stores["redis_load"] / stores["redis_nodes"],
        "PostgreSQL (writes/s)": stores["postgres_load"] / stores["postgres_nodes"],
    }
    first = max(loads, key=lambda k: loads[k])
    print()
    print("At the peak, share of each tier's provisioned capacity in use (all its nodes):")
    for name, load in sorted(loads.items(), key=lambda item: -item[1]):
        print(f"  {name:45} {100 * load:5.0f} %")
    print(
        f"Saturates first: {first}; per node, the API tier is bound by {api['binding']} and "
        f"a media node by {media['binding']}."
    )
    print(json.dumps({
        "api_nodes": api["nodes"], "media_nodes": media["nodes"],
        "redis_nodes": stores["redis_nodes"], "postgres_nodes": stores["postgres_nodes"],
        "largest_room_edges": media["largest_room_edges"], "first_to_saturate": first,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
