"""Audience fan-out: one speaker, N Streaming viewers; Janus's CPU per listener and RTP loss.

Run as root (it creates a network namespace):  .venv/bin/python bench/audience.py [--listeners N]

Method. Janus runs with the generated config of ``mitalk serve``; one stage is created as the
service does it (AudioBridge room, Streaming mountpoint, always-on ``rtp_forward`` of the mix).
A speaker bot (aiortc) joins the room and plays a steady 440 Hz tone. Then:

1. baseline: Janus's CPU with the speaker alone, from ``/proc/<janus pid>/stat`` (utime +
   stime, all threads) over ``--interval`` seconds;
2. for each audience size N (``--listeners N``, or ``--sweep 10,25,50``): viewers (aiortc,
   receive-only, as DESIGN.md's audience) are added until there are N, each must hear the tone,
   then after a settling pause Janus's CPU is measured again over ``--interval`` seconds, with
   the viewers' RTP counters (aiortc ``getStats``: packetsReceived, packetsLost, i.e. sequence
   gaps) read at both ends of the same window.

Janus CPU per listener = (CPU with N viewers - baseline) / N, in % of one core. Loss =
lost / (received + lost) over the window, all viewers together. The bench process's own CPU
and the whole machine's are printed too: on 2 cores the aiortc viewers (about 1.7 % of a core
each, decoding Opus in Python threads) bound the test long before Janus does.

Ends with one JSON line: listeners, janus_cpu_pct_per_listener, loss_pct (for the largest N).
Targets: <= 0.25 % of a core per listener, < 1 % loss.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from dataclasses import dataclass

from _harness import (
    BenchError,
    CpuWindow,
    Leave,
    Route,
    janus_stack,
    measure_cpu,
    new_stage_id,
    progress,
    run,
    streaming_route,
    wait_until,
)
from _swarm import ListenerStats, Swarm
from aiortc.stats import RTCInboundRtpStreamStats

from mitalk.media import bots
from mitalk.media.audio import sounding_fraction
from mitalk.media.bots import AudioPeer
from mitalk.media.stage import StageManager, Viewer

DEFAULT_LISTENERS = 25
JOIN_BATCH = 5  # Viewers joined concurrently: a burst of DTLS handshakes is CPU-heavy here.
SWARM_JOIN_BATCH = 10  # Swarm viewers cost the client far less; Janus's DTLS handshakes remain.
# Swarm viewers whose last 2 s are decoded: the tone must be the dominant frequency and sound
# through at least half of it (a loaded 2-core machine makes the speaker bot stutter at times).
DECODED_SAMPLE = 10
MAX_AUDIENCE = {"aiortc": 200, "swarm": 1000}
SOUND_TIMEOUT = 15.0
SETTLE_SECONDS = 3.0  # After the last join: ICE/DTLS done, jitter buffers filled.

TARGET_CPU_PER_LISTENER = 0.25
TARGET_LOSS_PCT = 1.0


class Audience:
    """aiortc viewers (each decodes what it hears) and how they leave."""

    client_pids: tuple[int, ...] = ()

    def __init__(self, route: Route) -> None:
        self.route = route
        self.peers: list[AudioPeer] = []
        self.leaves: list[Leave] = []

    def __len__(self) -> int:
        return len(self.peers)

    async def add(self, target: int) -> None:
        """Join viewers until there are ``target``, a batch at a time; each must hear sound."""
        while len(self.peers) < target:
            batch = [bots.listener() for _ in range(min(JOIN_BATCH, target - len(self.peers)))]
            for peer in batch:
                peer.recorder.keep_seconds = 1.0  # Enough to check what each one hears.
            self.peers += batch  # Before joining: closed on the way out whatever happens.
            self.leaves += await asyncio.gather(*(self.route.join_listener(p) for p in batch))
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(peer.recorder.got_sound.wait() for peer in batch)),
                    SOUND_TIMEOUT,
                )
            except TimeoutError as exc:
                deaf = sum(not peer.recorder.got_sound.is_set() for peer in batch)
                raise BenchError(
                    f"{deaf} new viewers heard nothing in {SOUND_TIMEOUT:.0f} s"
                ) from exc

    async def counters(self) -> tuple[int, int]:
        """(packetsReceived, packetsLost) summed over every viewer's inbound audio stream."""
        received = lost = 0
        reports = await asyncio.gather(*(peer.pc.getStats() for peer in self.peers))
        for report in reports:
            for stats in report.values():
                if isinstance(stats, RTCInboundRtpStreamStats) and stats.kind == "audio":
                    received += stats.packetsReceived
                    lost += stats.packetsLost
        return received, lost

    async def hearing(self) -> int:
        """Viewers whose last second of decoded audio was the tone."""
        return sum(
            sounding_fraction(peer.recorder.samples(last_seconds=1.0), 48000) > 0.9
            for peer in self.peers
        )

    async def close(self) -> None:
        """Leave (detach the Janus handles) and close every viewer, never raising."""
        await asyncio.gather(*(leave() for leave in self.leaves), return_exceptions=True)
        for peer in self.peers:
            with contextlib.suppress(Exception):
                await peer.close()
        self.peers, self.leaves = [], []


class SwarmAudience(Audience):
    """Viewers in the Go listener swarm (bench/_swarm.py): no decoding, packets checked.

    Every viewer must receive sound (Opus payloads larger than silence frames) after joining;
    ``hearing`` counts viewers whose packets in the last window were mostly sound, and decodes a
    sample of them (``DECODED_SAMPLE``) to check it is the speaker's 440 Hz tone.
    """

    def __init__(self, stages: StageManager, stage_id: int, swarm: Swarm) -> None:
        super().__init__(streaming_route(stages, stage_id))
        self.stages, self.stage_id, self.swarm = stages, stage_id, swarm
        self.viewers: list[tuple[str, Viewer]] = []
        self.client_pids = (swarm.pid,)
        self._window: dict[str, ListenerStats] = {}

    def __len__(self) -> int:
        return len(self.viewers)

    async def _join(self, listener_id: str) -> None:
        viewer = await self.stages.watch(self.stage_id)
        self.viewers.append((listener_id, viewer))
        answer = await self.swarm.add(listener_id, str(viewer.offer["sdp"]))
        await self.stages.start_viewer(viewer, {"type": "answer", "sdp": answer})

    async def add(self, target: int) -> None:
        """Join swarm viewers until there are ``target``; each must receive sound."""
        while len(self.viewers) < target:
            first = len(self.viewers)
            count = min(SWARM_JOIN_BATCH, target - first)
            ids = [f"v{first + i}" for i in range(count)]
            await asyncio.gather(*(self._join(listener_id) for listener_id in ids))
            deadline = asyncio.get_running_loop().time() + 2 * SOUND_TIMEOUT
            while True:
                stats = await self.swarm.stats()
                deaf = [i for i in ids if stats[i].sound_packets == 0]
                if not deaf:
                    break
                if asyncio.get_running_loop().time() > deadline:
                    raise BenchError(f"{len(deaf)} new viewers received no sound")
                await asyncio.sleep(0.2)

    async def counters(self) -> tuple[int, int]:
        """(packets received, packets lost) over every viewer; keeps the stats for ``hearing``."""
        stats = await self.swarm.stats()
        before, self._window = self._window, stats
        if before:
            self._delta = {k: (before.get(k), v) for k, v in stats.items()}
        return sum(s.packets for s in stats.values()), sum(s.lost for s in stats.values())

    async def hearing(self) -> int:
        """Viewers receiving sound through the last window (and the decoded sample is 440 Hz)."""
        ratios = []
        for old, new in getattr(self, "_delta", {}).values():
            packets = new.packets - (old.packets if old else 0)
            sound = new.sound_packets - (old.sound_packets if old else 0)
            ratios.append(sound / packets if packets else 0.0)
        sounding = sum(ratio > 0.9 for ratio in ratios)
        progress(f"sound/packets per viewer: min {min(ratios):.3f}, max {max(ratios):.3f}")
        sample = [listener_id for listener_id, _ in self.viewers][
            :: max(1, len(self) // DECODED_SAMPLE)
        ]
        heard = [await self.swarm.heard(i) for i in sample[:DECODED_SAMPLE]]
        off = [(round(s, 2), round(f, 1)) for s, f in heard if s < 0.5 or abs(f - 440.0) > 5]
        progress(
            f"decoded {len(heard)} viewers' last 2 s: {len(heard) - len(off)} heard the 440 Hz "
            "tone" + (f"; others (sounding, Hz): {off}" if off else "")
        )
        if off:
            raise BenchError(f"decoded viewers did not hear the 440 Hz tone: {off}")
        return sounding

    async def close(self) -> None:
        """Detach every viewer's handle and close its connection, never raising."""
        await asyncio.gather(
            *(self.stages.leave(viewer) for _, viewer in self.viewers), return_exceptions=True
        )
        for listener_id, _ in self.viewers:
            with contextlib.suppress(Exception):
                await self.swarm.close(listener_id)
        self.viewers = []


@dataclass
class LevelResult:
    """Measurements with ``listeners`` viewers."""

    listeners: int
    cpu: CpuWindow
    received: int
    lost: int
    hearing: int  # Viewers whose last second of audio was the tone.

    @property
    def loss_pct(self) -> float:
        total = self.received + self.lost
        return 100 * self.lost / total if total else float("nan")


@dataclass
class Baselines:
    """Speaker alone, before the viewers joined and after they left."""

    before: CpuWindow
    after: CpuWindow

    @property
    def janus_pct(self) -> float:
        # Janus's cost without viewers drifts a little, and neighbours load the machine: the
        # mean of the windows on both sides of the measurements is the reference.
        return (self.before.janus_pct + self.after.janus_pct) / 2

    @property
    def client_pct(self) -> float:
        return (self.before.client_pct + self.after.client_pct) / 2


async def bench(args: argparse.Namespace) -> tuple[Baselines, list[LevelResult]]:
    async with janus_stack(args.event_loops) as janus, contextlib.AsyncExitStack() as stack:
        stages = janus.stages
        stage_id = new_stage_id()
        await stages.create_stage(stage_id, ["speaker"])
        route = streaming_route(stages, stage_id)
        speaker = bots.speaker(frequency=440.0)
        audience = Audience(route)
        if args.client == "swarm":
            audience = SwarmAudience(
                stages, stage_id, await stack.enter_async_context(Swarm.started())
            )
        leave_speaker: Leave | None = None
        results: list[LevelResult] = []
        pids = audience.client_pids
        try:
            leave_speaker = await route.join_speaker(speaker)
            await wait_until(lambda: speaker.pc.connectionState == "connected", 10, "speaker")
            await asyncio.sleep(SETTLE_SECONDS)
            progress(f"baseline: speaker alone, {args.interval:.0f} s")
            before_all = await measure_cpu(janus.pid, args.interval, pids)
            for level in args.levels:
                progress(f"joining {args.client} viewers up to {level}")
                await audience.add(level)
                await asyncio.sleep(SETTLE_SECONDS)
                progress(f"{level} viewers: measuring {args.interval:.0f} s")
                before = await audience.counters()
                cpu = await measure_cpu(janus.pid, args.interval, pids)
                after = await audience.counters()
                results.append(
                    LevelResult(
                        listeners=level,
                        cpu=cpu,
                        received=after[0] - before[0],
                        lost=after[1] - before[1],
                        hearing=await audience.hearing(),
                    )
                )
            progress("closing viewers")
            await audience.close()
            await asyncio.sleep(SETTLE_SECONDS)
            progress(f"baseline again: speaker alone, {args.interval:.0f} s")
            after_all = await measure_cpu(janus.pid, args.interval, pids)
        finally:
            await audience.close()
            if leave_speaker is not None:
                with contextlib.suppress(Exception):
                    await leave_speaker()
            await speaker.close()
            await stages.destroy_stage(stage_id)
    return Baselines(before_all, after_all), results


def janus_per_listener(row: LevelResult, baselines: Baselines) -> float:
    """Janus's CPU above the speaker-alone baseline, per viewer, in % of one core."""
    return (row.cpu.janus_pct - baselines.janus_pct) / row.listeners


def print_report(baselines: Baselines, results: list[LevelResult], client: str) -> None:
    print()
    print("Streaming audience: CPU in % of one core (machine: % of all cores)")
    header = (
        f"{'viewers':>10} {'Janus':>7} {'Janus/viewer':>13} {'clients':>11} "
        f"{'client/viewer':>13} {'machine':>8} {'loss %':>7} {'hearing':>8}"
    )
    print(header)
    for label, window in (("0 before", baselines.before), ("0 after", baselines.after)):
        print(
            f"{label:>10} {window.janus_pct:7.2f} {'':>13} {window.client_pct:11.1f} "
            f"{'':>13} {window.machine_pct:8.1f}"
        )
    for row in results:
        client_each = (row.cpu.client_pct - baselines.client_pct) / row.listeners
        print(
            f"{row.listeners:>10} {row.cpu.janus_pct:7.2f} "
            f"{janus_per_listener(row, baselines):13.3f} "
            f"{row.cpu.client_pct:11.1f} {client_each:13.2f} {row.cpu.machine_pct:8.1f} "
            f"{row.loss_pct:7.3f} {row.hearing:>4}/{row.listeners:<3}"
        )
    last = results[-1]
    per_listener = janus_per_listener(last, baselines)
    client_per_listener = (last.cpu.client_pct - baselines.client_pct) / last.listeners
    print(
        f"(per viewer: above the mean of the two speaker-alone windows; loss over "
        f"{last.received + last.lost} packets expected at the largest size; 'hearing' = viewers "
        "whose last second was the tone)"
    )
    print()
    cpu_ok = per_listener <= TARGET_CPU_PER_LISTENER
    loss_ok = last.loss_pct < TARGET_LOSS_PCT
    print(
        f"target Janus CPU <= {TARGET_CPU_PER_LISTENER} % of a core per listener: "
        f"{'met' if cpu_ok else 'NOT met'}"
    )
    print(f"target loss < {TARGET_LOSS_PCT:.0f} %: {'met' if loss_ok else 'NOT met'}")
    print(
        json.dumps(
            {
                "listeners": last.listeners,
                "janus_cpu_pct_per_listener": round(per_listener, 3),
                "loss_pct": round(last.loss_pct, 3),
                "client": client,
                "client_cpu_pct_per_listener": round(client_per_listener, 3),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--listeners",
        type=int,
        default=DEFAULT_LISTENERS,
        help=f"Streaming viewers (default {DEFAULT_LISTENERS}, what 2 cores carry with room)",
    )
    parser.add_argument(
        "--sweep", help="comma-separated audience sizes measured in turn, e.g. 10,25,50"
    )
    parser.add_argument(
        "--client",
        choices=("aiortc", "swarm"),
        default="aiortc",
        help="viewers: aiortc bots that decode (default), or the Go listener swarm that "
        "checks packets and decodes a sample (bench/_swarm.py), light enough for hundreds",
    )
    parser.add_argument(
        "--interval", type=float, default=15.0, help="seconds per CPU measurement (default 15)"
    )
    parser.add_argument(
        "--event-loops",
        type=int,
        metavar="N",
        help="experiment: run Janus with general.event_loops = N instead of the generated "
        "config's 2 (0 = a thread per handle, Janus's own default)",
    )
    args = parser.parse_args()
    try:
        levels = [int(v) for v in args.sweep.split(",")] if args.sweep else [args.listeners]
    except ValueError:
        parser.error("--sweep takes comma-separated integers")
    most = MAX_AUDIENCE[args.client]
    if levels != sorted(set(levels)) or not 1 <= levels[0] or levels[-1] > most:
        parser.error(f"audience sizes must be increasing, 1..{most} with --client {args.client}")
    if not 5 <= args.interval <= 120:
        parser.error("--interval must be 5..120 s")
    args.levels = levels
    # Bounded: each level's joins (worst case), settling and measurement, plus set-up.
    batches = -(-levels[-1] // (SWARM_JOIN_BATCH if args.client == "swarm" else JOIN_BATCH))
    limit = (
        (len(levels) + 2) * (args.interval + SETTLE_SECONDS + 5)
        + batches * (SOUND_TIMEOUT + 5)
        + 60
    )
    baselines, results = run(lambda: bench(args), limit)
    print_report(baselines, results, args.client)


if __name__ == "__main__":
    main()
