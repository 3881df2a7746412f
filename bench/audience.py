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
from aiortc.stats import RTCInboundRtpStreamStats

from mitalk.media import bots
from mitalk.media.audio import sounding_fraction
from mitalk.media.bots import AudioPeer

DEFAULT_LISTENERS = 25
JOIN_BATCH = 5  # Viewers joined concurrently: a burst of DTLS handshakes is CPU-heavy here.
SOUND_TIMEOUT = 15.0
SETTLE_SECONDS = 3.0  # After the last join: ICE/DTLS done, jitter buffers filled.

TARGET_CPU_PER_LISTENER = 0.25
TARGET_LOSS_PCT = 1.0


@dataclass
class Audience:
    """Viewers and how they leave."""

    peers: list[AudioPeer]
    leaves: list[Leave]


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


async def rtp_counters(peers: list[AudioPeer]) -> tuple[int, int]:
    """(packetsReceived, packetsLost) summed over every viewer's inbound audio stream."""
    received = lost = 0
    reports = await asyncio.gather(*(peer.pc.getStats() for peer in peers))
    for report in reports:
        for stats in report.values():
            if isinstance(stats, RTCInboundRtpStreamStats) and stats.kind == "audio":
                received += stats.packetsReceived
                lost += stats.packetsLost
    return received, lost


async def add_viewers(route: Route, audience: Audience, target: int) -> None:
    """Join viewers until there are ``target``, a batch at a time; each must hear sound."""
    while len(audience.peers) < target:
        batch = [bots.listener() for _ in range(min(JOIN_BATCH, target - len(audience.peers)))]
        for peer in batch:
            peer.recorder.keep_seconds = 1.0  # Enough to check what each one hears.
        audience.peers += batch  # Before joining: closed on the way out whatever happens.
        audience.leaves += await asyncio.gather(*(route.join_listener(peer) for peer in batch))
        try:
            await asyncio.wait_for(
                asyncio.gather(*(peer.recorder.got_sound.wait() for peer in batch)),
                SOUND_TIMEOUT,
            )
        except TimeoutError as exc:
            deaf = sum(not peer.recorder.got_sound.is_set() for peer in batch)
            raise BenchError(f"{deaf} new viewers heard nothing in {SOUND_TIMEOUT:.0f} s") from exc


async def close_audience(audience: Audience) -> None:
    """Leave (detach the Janus handles) and close every viewer, never raising."""
    leaves = await asyncio.gather(*(leave() for leave in audience.leaves), return_exceptions=True)
    del leaves
    for peer in audience.peers:
        with contextlib.suppress(Exception):
            await peer.close()


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
    async with janus_stack(args.event_loops) as janus:
        stages = janus.stages
        stage_id = new_stage_id()
        await stages.create_stage(stage_id, ["speaker"])
        route = streaming_route(stages, stage_id)
        speaker = bots.speaker(frequency=440.0)
        audience = Audience([], [])
        leave_speaker: Leave | None = None
        results: list[LevelResult] = []
        try:
            leave_speaker = await route.join_speaker(speaker)
            await wait_until(lambda: speaker.pc.connectionState == "connected", 10, "speaker")
            await asyncio.sleep(SETTLE_SECONDS)
            progress(f"baseline: speaker alone, {args.interval:.0f} s")
            before_all = await measure_cpu(janus.pid, args.interval)
            for level in args.levels:
                progress(f"joining viewers up to {level}")
                await add_viewers(route, audience, level)
                await asyncio.sleep(SETTLE_SECONDS)
                progress(f"{level} viewers: measuring {args.interval:.0f} s")
                before = await rtp_counters(audience.peers)
                cpu = await measure_cpu(janus.pid, args.interval)
                after = await rtp_counters(audience.peers)
                hearing = sum(
                    sounding_fraction(peer.recorder.samples(last_seconds=1.0), 48000) > 0.9
                    for peer in audience.peers
                )
                results.append(
                    LevelResult(
                        listeners=level,
                        cpu=cpu,
                        received=after[0] - before[0],
                        lost=after[1] - before[1],
                        hearing=hearing,
                    )
                )
            progress("closing viewers")
            await close_audience(audience)
            audience = Audience([], [])
            await asyncio.sleep(SETTLE_SECONDS)
            progress(f"baseline again: speaker alone, {args.interval:.0f} s")
            after_all = await measure_cpu(janus.pid, args.interval)
        finally:
            await close_audience(audience)
            if leave_speaker is not None:
                with contextlib.suppress(Exception):
                    await leave_speaker()
            await speaker.close()
            await stages.destroy_stage(stage_id)
    return Baselines(before_all, after_all), results


def janus_per_listener(row: LevelResult, baselines: Baselines) -> float:
    """Janus's CPU above the speaker-alone baseline, per viewer, in % of one core."""
    return (row.cpu.janus_pct - baselines.janus_pct) / row.listeners


def print_report(baselines: Baselines, results: list[LevelResult]) -> None:
    print()
    print("Streaming audience: CPU in % of one core (machine: % of all cores)")
    header = (
        f"{'viewers':>10} {'Janus':>7} {'Janus/viewer':>13} {'bench proc':>11} "
        f"{'bench/viewer':>13} {'machine':>8} {'loss %':>7} {'hearing':>8}"
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
    if levels != sorted(set(levels)) or not 1 <= levels[0] or levels[-1] > 200:
        parser.error("audience sizes must be increasing, 1..200")
    if not 5 <= args.interval <= 120:
        parser.error("--interval must be 5..120 s")
    args.levels = levels
    # Bounded: each level's joins (worst case), settling and measurement, plus set-up.
    batches = -(-levels[-1] // JOIN_BATCH)
    limit = (
        (len(levels) + 2) * (args.interval + SETTLE_SECONDS + 5)
        + batches * (SOUND_TIMEOUT + 5)
        + 60
    )
    baselines, results = run(lambda: bench(args), limit)
    print_report(baselines, results)


if __name__ == "__main__":
    main()
