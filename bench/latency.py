"""Mouth-to-ear latency bot to bot, through the Mi Talk server and directly; join-to-first-audio.

Run as root (it creates a network namespace):  .venv/bin/python bench/latency.py [--path ...]

Method. A speaker bot (aiortc) plays silence with short 1 kHz tone bursts, each starting on a
20 ms frame boundary; it notes ``time.monotonic()`` when the frame starting a burst is handed
to its sender (the moment a live microphone would deliver it). A listener bot in the same
process, hence on the same clock, timestamps every decoded frame as it comes out of aiortc's
receiver and finds the first sample of each burst above an amplitude threshold: heard at
``arrival + sample_index / 48000``. Latency is heard minus emitted, per burst; p50 and p95 over
``--bursts`` bursts. Bursts are ``--period`` apart, longer than any latency seen, so each heard
onset pairs with the latest burst emitted before it.

This is app-to-app time: it includes Opus encode/decode, RTP/SRTP, the network (a veth pair)
and every jitter buffer, but neither a sound card's capture framing nor its playout buffer.
The same bots measure three legs, one after the other, so their costs cancel in the ratio:

- through the server (default, ``--path server``): a real ``mitalk serve`` runs in the
  namespace with its managed Janus; the speaker signs in, creates a room (its moderator) and
  connects its audio with ``POST /rooms/{id}/media/offer`` (AudioBridge); the listener signs
  in, joins the room (``POST /rooms/{id}/join``, the room WebSocket) and connects with
  ``/media/listen`` + ``/media/answer`` (Streaming viewer fed by the room's rtp_forward).
  Signaling is ``mitalk.media.roombot.RoomBot``'s, what ``mitalk bot`` runs;
- or, without the server (``--path audiobridge|streaming``), the bots join a Janus started
  here through ``StageManager``: speaker -> AudioBridge room -> listener that is a room
  participant (receiving the mix), or -> rtp_forward -> Streaming mountpoint -> viewer;
- directly: the same two bots connected to each other with no server;
- join-to-first-audio: a speaker plays a steady tone; a new listener joins ``--joins`` times,
  timed to the first decoded frame above -45 dBFS from the listener's join request to the
  server (``POST /rooms/{id}/join``; it then opens the room WebSocket, asks to listen, answers,
  connects ICE + DTLS), or without the server from the start of its join (creating its peer and
  offer, the signaling round trip).

Janus runs with the generated config of ``mitalk serve`` and the room's
``default_prebuffering = 2`` (StageManager's default). Bots are connected through a ``Route``
(see _harness.py); the measurements never signal by themselves.

With ``--via turn`` the server runs its managed coturn (TURN over TLS with a certificate of a
CA made for the run, which the bots trust through SSL_CERT_FILE), and a third leg repeats the
server path and the joins with every bot allowing only relay candidates on the TLS URL
(``mitalk bot … --relay --turn tls``; a connection whose selected pair is not a relay stops
the run). The direct server legs ignore the ICE servers (host candidates only). All legs run
in the one namespace, so the TURN leg adds TLS over TCP, the relay hop and coturn's work, not
a longer network path.

Ends with one JSON line: p50_ms, p95_ms, direct_p50_ms, ratio (= p50_ms / direct_p50_ms),
join_to_audio_p50_ms; with ``--via turn`` also turn_p50_ms, turn_join_to_audio_p50_ms and
turn_ratio (= turn_p50_ms / p50_ms, TURN over the direct server path). Targets: p50 <= 150 ms,
ratio <= 1.7, join-to-audio p50 <= 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import (
    SERVER_START_TIMEOUT,
    BenchError,
    OnsetDetector,
    Route,
    audiobridge_route,
    direct_route,
    janus_stack,
    match_onsets,
    median,
    mitalk_server,
    new_stage_id,
    percentile,
    progress,
    run,
    server_route,
    streaming_route,
    tls_files,
    wait_until,
)

from mitalk.media.bots import AudioPeer, BurstSourceTrack

BURST_SECONDS = 0.1
CONNECT_TIMEOUT = 10.0
WARM_UP_SECONDS = 1.5  # Lets jitter buffers and AudioBridge's prebuffer settle first.

TARGET_P50_MS = 150.0
TARGET_RATIO = 1.7
TARGET_JOIN_MS = 500.0


@dataclass
class LatencyResult:
    """Per-burst latencies of one leg, in milliseconds."""

    route: str
    emitted: int
    latencies_ms: list[float]
    extras: int
    peak: int  # Median peak amplitude of the heard bursts (0..32767), to judge the threshold.
    per_connection_p50: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)


@dataclass
class JoinResult:
    """Per-join timings in milliseconds, all from the join request (see measure_joins)."""

    route: str
    signaled_ms: list[float] = field(default_factory=list)  # Join, offer/answer done.
    connected_ms: list[float] = field(default_factory=list)  # ICE + DTLS up.
    first_audio_ms: list[float] = field(default_factory=list)


async def _close(peer: AudioPeer, leave: object) -> None:
    """Leave (if joined) and close; never let cleanup hide the real error."""
    with contextlib.suppress(Exception):
        if callable(leave):
            await leave()
    with contextlib.suppress(Exception):
        await peer.close()


async def _one_connection(
    route: Route, bursts: int, period: float
) -> tuple[list[float], list[float], list[int]]:
    """One speaker/listener pair: emitted and heard onset times, and heard peak amplitudes."""
    source = BurstSourceTrack(burst_seconds=BURST_SECONDS, period_seconds=period)
    speaker, listener = AudioPeer(source), AudioPeer()
    detector = OnsetDetector(listener.recorder.rate)
    listener.recorder.on_frame = detector.feed
    leave_speaker = leave_listener = None
    try:
        leave_speaker = await route.join_speaker(speaker)
        leave_listener = await route.join_listener(listener)
        await wait_until(
            lambda: listener.recorder.first_frame_at is not None,
            CONNECT_TIMEOUT,
            f"first audio frame ({route.name})",
        )
        route.check_path(speaker)
        route.check_path(listener)
        await asyncio.sleep(WARM_UP_SECONDS)
        detector.reset()
        source.play_bursts(bursts)
        await wait_until(lambda: source.pending == 0, bursts * period + 5, "bursts to be sent")
        await asyncio.sleep(period + 0.5)  # The last burst's way through.
    finally:
        await _close(listener, leave_listener)
        await _close(speaker, leave_speaker)
    return source.onsets, detector.onsets, detector.peaks


async def measure_latency(
    route: Route, bursts: int, period: float, connections: int
) -> LatencyResult:
    """Send ``bursts`` tone bursts from speakers to listeners over ``route``, in total.

    The bursts are spread over ``connections`` fresh speaker/listener pairs, because the
    latency through Janus is set when a connection starts and then stays put (it differed by
    up to ~50 ms between connections here): one pair would report one draw of it.
    """
    result = LatencyResult(route=route.name, emitted=0, latencies_ms=[], extras=0, peak=0)
    peaks: list[int] = []
    for index in range(connections):
        count = bursts // connections + (index < bursts % connections)
        progress(f"{route.name}: connection {index + 1}/{connections}, {count} bursts")
        emitted, heard, heard_peaks = await _one_connection(route, count, period)
        # A heard onset more than (period - burst) after its burst would overlap the next one.
        latencies, extras = match_onsets(emitted, heard, period - BURST_SECONDS)
        result.emitted += len(emitted)
        result.extras += extras
        result.latencies_ms += [1000 * value for value in latencies]
        result.per_connection_p50.append(1000 * median(latencies))
        peaks += heard_peaks
    if not result.latencies_ms:
        raise BenchError(f"{route.name}: no burst was heard")
    result.peak = sorted(peaks)[len(peaks) // 2]
    return result


async def measure_joins(route: Route, joins: int) -> JoinResult:
    """Join a listener ``joins`` times while a speaker plays a steady tone."""
    source = BurstSourceTrack()
    source.steady = True
    speaker = AudioPeer(source)
    progress(f"{route.name}: {joins} listener joins")
    leave_speaker = await route.join_speaker(speaker)
    result = JoinResult(route.name)
    try:
        await wait_until(
            lambda: speaker.pc.connectionState == "connected", CONNECT_TIMEOUT, "speaker"
        )
        await asyncio.sleep(0.5)
        for _ in range(joins):
            start = time.monotonic()
            # The peer is created inside the timed section: a real client builds it on "join".
            # A route that knows when the join request left (the server's) times from there.
            listener = AudioPeer()
            leave = None
            try:
                leave = await route.join_listener(listener)
                signaled = time.monotonic()
                start = route.join_requested_at(listener) or start
                await asyncio.wait_for(listener.recorder.got_sound.wait(), CONNECT_TIMEOUT)
                first_sound = listener.recorder.first_sound_at
                assert first_sound is not None
                route.check_path(listener)
                result.signaled_ms.append(1000 * (signaled - start))
                if listener.connected_at is not None:
                    result.connected_ms.append(1000 * (listener.connected_at - start))
                result.first_audio_ms.append(1000 * (first_sound - start))
            except TimeoutError as exc:
                raise BenchError(f"{route.name}: joined listener heard nothing") from exc
            finally:
                await _close(listener, leave)
            await asyncio.sleep(0.3)  # Let Janus tear the previous seat down first.
    finally:
        await _close(speaker, leave_speaker)
    return result


@dataclass
class Report:
    janus: LatencyResult
    direct: LatencyResult
    joins: JoinResult
    turn: LatencyResult | None = None  # --via turn: the server path relayed by TURN over TLS
    turn_joins: JoinResult | None = None


# --via turn: the managed coturn listens on the namespace's other veth end (the bots connect
# there over TLS); it relays to Janus on mt0, the media server it may reach.
TURN_ADDRESS = "10.99.0.2"


def _turn_settings(folder: Path) -> dict[str, str]:
    """Settings of a server with managed TURN over TLS, and the bots trusting its test CA."""
    ca, cert, key = tls_files(folder, TURN_ADDRESS)
    # OpenSSL's default verify paths honour SSL_CERT_FILE: the bots (aioice's TLS) trust
    # this run's CA and nothing else; no certificate check is skipped.
    os.environ["SSL_CERT_FILE"] = str(ca)
    return {
        "MITALK_TURN": "managed",
        "MITALK_TURN_LISTEN": TURN_ADDRESS,
        "MITALK_TURN_HOST": TURN_ADDRESS,
        "MITALK_TURN_TLS_CERT": str(cert),
        "MITALK_TURN_TLS_KEY": str(key),
    }


async def bench_server(args: argparse.Namespace) -> Report:
    """Speaker and listeners through a real ``mitalk serve`` in the namespace."""
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-tls-") as folder:
        extra = _turn_settings(Path(folder)) if args.via == "turn" else {}
        progress("starting mitalk serve (and its Janus) in the namespace")
        async with mitalk_server(extra_env=extra) as server:
            route = await server_route(server)
            # Server first, then direct, then joins: each leg alone on the CPU.
            through_server = await measure_latency(
                route, args.bursts, args.period, args.connections
            )
            direct = await measure_latency(
                direct_route(), args.bursts, args.period, args.connections
            )
            joins = await measure_joins(route, args.joins)
            report = Report(through_server, direct, joins)
            if args.via == "turn":
                relayed = await server_route(server, turn="tls")
                report.turn = await measure_latency(
                    relayed, args.bursts, args.period, args.connections
                )
                report.turn_joins = await measure_joins(relayed, args.joins)
            progress("stopping mitalk serve")
    return report


async def bench(args: argparse.Namespace) -> Report:
    if args.path == "server":
        return await bench_server(args)
    async with janus_stack(args.event_loops) as janus:
        stages = janus.stages
        # Read by create_stage (the room's default_prebuffering); 2 unless experimenting.
        stages.prebuffering = args.prebuffering
        stage_id = new_stage_id()
        await stages.create_stage(stage_id, ["speaker", "listener"])
        try:
            if args.path == "streaming":
                route = streaming_route(stages, stage_id)
            else:
                route = audiobridge_route(stages, stage_id)
            # Janus first, then direct, then joins: each leg alone on the CPU.
            through_janus = await measure_latency(route, args.bursts, args.period, args.connections)
            direct = await measure_latency(
                direct_route(), args.bursts, args.period, args.connections
            )
            joins = await measure_joins(route, args.joins)
        finally:
            await stages.destroy_stage(stage_id)
    return Report(through_janus, direct, joins)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _print_joins(joins: JoinResult, since: str) -> None:
    print(f"join to first audio, {joins.route} ({len(joins.first_audio_ms)} joins), from {since}")
    print(f"{'stage':40} {'p50 ms':>8} {'p95 ms':>8} {'max':>7}")
    for label, values in (
        ("joined, offer/answer done", joins.signaled_ms),
        ("ICE + DTLS connected", joins.connected_ms),
        ("first decoded audio > -45 dBFS", joins.first_audio_ms),
    ):
        print(
            f"{label:40} {percentile(values, 50):8.1f} {percentile(values, 95):8.1f} "
            f"{max(values, default=float('nan')):7.1f}"
        )


def print_report(report: Report, args: argparse.Namespace) -> None:
    rows = [report.janus, report.direct] + ([report.turn] if report.turn else [])
    print()
    print(
        f"mouth-to-ear, app to app: {args.bursts} bursts {args.period * 1000:.0f} ms apart over "
        f"{args.connections} connections per path; AudioBridge prebuffering {args.prebuffering}"
    )
    print(
        f"{'path':40} {'heard':>7} {'p50 ms':>8} {'p95 ms':>8} {'min':>7} {'max':>7} {'peak*':>6}"
    )
    for row in rows:
        heard = f"{len(row.latencies_ms)}/{row.emitted}"
        print(
            f"{row.route:40} {heard:>7} {row.p50:8.1f} {row.p95:8.1f} "
            f"{min(row.latencies_ms):7.1f} {max(row.latencies_ms):7.1f} {row.peak:6d}"
            + (f"  ({row.extras} unpaired onsets)" if row.extras else "")
        )
    for row in rows:
        print(
            f"  {row.route}: p50 per connection "
            + " ".join(f"{value:.0f}" for value in row.per_connection_p50)
            + " ms"
        )
        if args.show:
            print(
                "    every burst, in order sent: "
                + " ".join(f"{value:.0f}" for value in row.latencies_ms)
            )
    print("  * median peak amplitude heard; bursts are sent at 16384 (-6 dBFS)")
    ratio = report.janus.p50 / report.direct.p50
    print(f"{'ratio (' + args.path + ' p50 / direct p50)':40} {ratio:>25.2f}")
    turn_ratio = report.turn.p50 / report.janus.p50 if report.turn else None
    if turn_ratio is not None:
        print(f"{'ratio (TURN/TLS p50 / server p50)':40} {turn_ratio:>25.2f}")
    joins = report.joins
    print()
    since = "POST /rooms/{id}/join" if args.path == "server" else "start of the join"
    _print_joins(joins, since)
    if report.turn_joins is not None:
        print()
        _print_joins(report.turn_joins, since)
    join_p50 = median(joins.first_audio_ms)
    print()
    print(f"target p50 <= {TARGET_P50_MS:.0f} ms: {_met(report.janus.p50 <= TARGET_P50_MS)}")
    print(f"target ratio <= {TARGET_RATIO}: {_met(ratio <= TARGET_RATIO)}")
    print(
        f"target join-to-audio p50 <= {TARGET_JOIN_MS:.0f} ms: {_met(join_p50 <= TARGET_JOIN_MS)}"
    )
    line = {
        "p50_ms": round(report.janus.p50, 1),
        "p95_ms": round(report.janus.p95, 1),
        "direct_p50_ms": round(report.direct.p50, 1),
        "ratio": round(ratio, 2),
        "join_to_audio_p50_ms": round(join_p50, 1),
    }
    if report.turn is not None and report.turn_joins is not None and turn_ratio is not None:
        line |= {
            "turn_p50_ms": round(report.turn.p50, 1),
            "turn_join_to_audio_p50_ms": round(median(report.turn_joins.first_audio_ms), 1),
            "turn_ratio": round(turn_ratio, 2),
        }
    print(json.dumps(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--path",
        choices=("server", "audiobridge", "streaming"),
        default="server",
        help="leg measured against direct: through a real mitalk serve (default; the listener "
        "is a Streaming viewer), or straight to a Janus started here, listener as AudioBridge "
        "participant or Streaming viewer via rtp_forward",
    )
    parser.add_argument(
        "--via",
        choices=("direct", "turn"),
        default="direct",
        help="turn: also measure the server path with every bot relayed by the server's "
        "managed TURN over TLS (--relay --turn tls), next to the direct one (--path server)",
    )
    parser.add_argument("--bursts", type=int, default=40, help="bursts per leg (default 40)")
    parser.add_argument(
        "--period", type=float, default=0.4, help="seconds between bursts (default 0.4)"
    )
    parser.add_argument(
        "--prebuffering",
        type=int,
        default=2,
        help="AudioBridge default_prebuffering in packets (default 2, as Mi Talk configures; "
        "other values only without the server)",
    )
    parser.add_argument("--joins", type=int, default=10, help="listener joins (default 10)")
    parser.add_argument(
        "--connections",
        type=int,
        default=5,
        help="fresh speaker/listener pairs the bursts are spread over (default 5)",
    )
    parser.add_argument("--show", action="store_true", help="print every burst's latency")
    parser.add_argument(
        "--event-loops",
        type=int,
        metavar="N",
        help="experiment: run Janus with general.event_loops = N instead of the generated "
        "config's (only without the server)",
    )
    args = parser.parse_args()
    if args.path == "server" and (args.prebuffering != 2 or args.event_loops is not None):
        parser.error(
            "--prebuffering and --event-loops are experiments on --path audiobridge|streaming"
        )
    if args.via == "turn" and args.path != "server":
        parser.error("--via turn measures through the server (--path server)")
    if not 5 <= args.bursts <= 500 or not 3 <= args.joins <= 100:
        parser.error("--bursts must be 5..500 and --joins 3..100")
    if not 1 <= args.connections <= min(args.bursts, 20):
        parser.error("--connections must be 1..20 and at most --bursts")
    if not 0.3 <= args.period <= 2.0:
        parser.error("--period must be 0.3..2.0 s (longer than any latency, shorter than a nap)")
    # Bounded: both legs' bursts, the joins, and a minute for set-up and stragglers.
    per_connection = CONNECT_TIMEOUT + WARM_UP_SECONDS + args.period + 1
    legs = 3 if args.via == "turn" else 2
    limit = (
        legs * (args.bursts * args.period + args.connections * per_connection)
        + (legs - 1) * args.joins * (CONNECT_TIMEOUT + 1)
        + 60
        + (SERVER_START_TIMEOUT + 20 if args.path == "server" else 0)
    )
    report = run(lambda: bench(args), limit)
    print_report(report, args)


if __name__ == "__main__":
    main()
