"""The web client in headless Chromium at phone size: page load, join to first sound, stage move.

Run as root (it creates a network namespace):  .venv/bin/python bench/web.py [--reps 5]

What a person on a phone waits for, measured in real browsers (Debian's chromium driven by
``web/e2e/bench.mjs`` with playwright-core, one browser per person, 390x844 isMobile) against
a real ``mitalk serve`` with its managed Janus, both inside the benchmark's own namespace
(see _harness.py):

1. page load: navigation start -> the sign-in screen's phone input shown and enabled, cold
   (fresh profile: no HTTP cache, no service worker) and warm (the same profile again, the
   service worker controlling the page), with the bytes transferred (Performance API), and the
   gzipped size of the built bundle (``web/dist/assets/*.js|css``, compressed here);
2. join to first sound: A speaks (fake microphone, 440 Hz); B taps the room's card in the
   hallway and waits until an AnalyserNode on B's inbound track sees the tone; p50/p95 over
   ``--reps`` fresh joins, with the app's steps in between. The same join by the aiortc bot
   (``latency.measure_joins`` over ``server_route``: RoomBot, what ``mitalk bot`` runs) on the
   same server, ``--bot-joins`` times (default 10: its joins are bimodal, see README), and the
   ratio browser / bot of the p50s;
3. stage move: A's page calls ``POST /rooms/{id}/speakers`` for B, B unmutes as soon as its page
   shows it on stage (speakers arrive muted), until A's analyser hears B; p50.

The server serves a copy of ``web/dist`` taken at the start (a rebuild during the run does not
change what is measured). Its Janus uses API port 8688 and RTP ports 25000-25999 (inside the
namespace anyway). Prints a table and, as the last line of stdout, one JSON line; progress
(the browsers' steps included) goes to stderr. The whole run is bounded (``--max-seconds``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import BenchError, median, mitalk_server, percentile, progress, run, server_route
from latency import measure_joins

from mitalk.media.audio import tone, write_wav

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
SCRIPT = WEB / "e2e" / "bench.mjs"
JANUS_API_PORT = 8688
RTP_PORT_RANGE = "25000-25999"
HZ_A, HZ_B = 440.0, 660.0
SLOW_CONNECT_MS = 800.0  # aiortc's ~1 s ICE retry on some Streaming joins (README, Findings)
BOT_JOIN_SECONDS = 4.0  # time kept for each bot join after the browsers (they take ~1-2 s)


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"`{name}` is not on PATH ({hint})")
    return found


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise BenchError("`chromium` is not on PATH (apt-get install chromium)")


def bundle_sizes(dist: Path) -> list[tuple[str, int, int]]:
    """(name, bytes, gzip -9 bytes) of every built .js and .css asset."""
    files = sorted(p for p in (dist / "assets").iterdir() if p.suffix in (".js", ".css"))
    return [(p.name, p.stat().st_size, len(gzip.compress(p.read_bytes(), 9))) for p in files]


async def _run_browsers(config_file: Path, timeout: float) -> None:
    """Run bench.mjs (its own session, so a timeout kills node and every browser together)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
    process = await asyncio.create_subprocess_exec(
        _tool("node", "apt-get install nodejs"), str(SCRIPT), str(config_file),
        cwd=WEB, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    tail: list[str] = []

    async def forward() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            tail[:] = [*tail[-40:], line]
            print(f"    {line}", file=sys.stderr, flush=True)

    try:
        await asyncio.wait_for(asyncio.gather(forward(), process.wait()), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        if isinstance(sys.exc_info()[1], TimeoutError):
            raise BenchError(f"the browsers took longer than {timeout:.0f} s") from None
        raise
    if process.returncode != 0:
        raise BenchError(
            f"web/e2e/bench.mjs failed (exit {process.returncode}); its output is above"
        )


async def bench(args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    """Browsers first, then the bot joins, on one server."""
    chromium = _chromium()
    if not (WEB / "node_modules" / "playwright-core" / "package.json").exists():
        raise BenchError("web/node_modules has no playwright-core: run `cd web && npm ci`")
    if not (WEB / "dist" / "index.html").exists():
        raise BenchError("web/dist is not built: run `cd web && npm ci && npm run build`")
    with tempfile.TemporaryDirectory(prefix="mitalk-bench-web-") as folder:
        work = Path(folder)
        dist = work / "dist"
        shutil.copytree(WEB / "dist", dist)
        bundle = bundle_sizes(dist)
        tones = {}
        for key, hz in (("toneA", HZ_A), ("toneB", HZ_B)):
            path = work / f"tone-{int(hz)}.wav"
            write_wav(path, tone(hz, 10.0), 48000)
            tones[key] = str(path)
        progress("starting mitalk serve (and its Janus) in the namespace")
        async with mitalk_server(
            JANUS_API_PORT, RTP_PORT_RANGE, {"MITALK_WEB_DIR": str(dist)}
        ) as server:
            result_file = work / "result.json"
            config = {
                "base": server.base,
                "outbox": str(server.data_dir / "sms-outbox.jsonl"),
                "outDir": str(work / "out"),
                "chromium": chromium,
                "mitalk": [sys.executable, "-m", "mitalk"],
                "reps": args.reps,
                "resultFile": str(result_file),
                **tones,
            }
            config_file = work / "config.json"
            config_file.write_text(json.dumps(config))
            bot_budget = args.bot_joins * BOT_JOIN_SECONDS + 10
            browser_budget = deadline - time.monotonic() - bot_budget
            progress(f"browsers: web/e2e/bench.mjs (at most {browser_budget:.0f} s)")
            await _run_browsers(config_file, browser_budget)
            browsers = json.loads(result_file.read_text())
            progress(f"bot joins on the same server: {args.bot_joins}")
            route = await server_route(server)
            bots = await measure_joins(route, args.bot_joins)
            progress("stopping mitalk serve")
    return {"bundle": bundle, "browsers": browsers, "bots": bots}


def _stats(values: list[float | None]) -> tuple[float, float, float, float]:
    got = [v for v in values if v is not None]
    if not got:
        return (float("nan"),) * 4
    return percentile(got, 50), percentile(got, 95), min(got), max(got)


def _row(label: str, values: list[float | None], width: int = 52) -> str:
    p50, p95, low, high = _stats(values)
    return f"{label:{width}} {p50:8.0f} {p95:8.0f} {low:7.0f} {high:7.0f}"


def print_report(report: dict[str, Any], reps: int) -> None:
    """The table, then the JSON line."""
    browsers = report["browsers"]
    loads, joins, moves = browsers["loads"], browsers["joins"], browsers["moves"]
    bots = report["bots"]
    head = f"{'':52} {'p50 ms':>8} {'p95 ms':>8} {'min':>7} {'max':>7}"
    print()
    print(f"Chromium {browsers['browser']}, 390x844 isMobile, {reps} repetitions")
    print()
    print("page load: navigation start -> sign-in phone input shown and enabled")
    print(head)
    for kind, label in (
        ("cold", "cold (fresh profile)"),
        ("warm", "warm (service worker controls it)"),
    ):
        print(_row(label, [load[kind]["shownMs"] for load in loads]))
        print(_row("  first contentful paint", [load[kind]["fcpMs"] for load in loads]))
        print(_row("  HTML response end", [load[kind]["responseEndMs"] for load in loads]))
    for kind in ("cold", "warm"):
        sample = loads[-1][kind]
        print(
            f"shell, {kind}: {median([ld[kind]['shellEncodedBytes'] for ld in loads]) / 1024:.1f} "
            f"KiB of bodies in {sample['shellRequests']} requests "
            f"({sample['fromServiceWorker']} answered by the service worker), the page's own "
            f"transfer {median([ld[kind]['shellTransferBytes'] for ld in loads]) / 1024:.1f} KiB; "
            f"API {sample['apiTransferBytes'] / 1024:.1f} KiB in {sample['apiRequests']} requests"
        )
    print(
        "  (cold: every body crossed the network once, by the page or by the worker's precache,"
        " which may fetch a lazy chunk first, so the page's own transfer varies; no compression)"
    )
    bundle = report["bundle"]
    raw, zipped = sum(b[1] for b in bundle), sum(b[2] for b in bundle)
    print(
        f"bundle (web/dist/assets/*.js|css): {raw / 1024:.1f} KiB, gzip -9 {zipped / 1024:.1f} KiB"
    )
    for name, size, packed in bundle:
        print(f"  {name:40} {size / 1024:8.1f} KiB  gzip {packed / 1024:7.1f} KiB")
    print()
    print("join to first sound: B taps the room's card -> B's analyser hears A's tone")
    print(head)
    for key, label in (
        ("joinRequestMs", "POST /rooms/{id}/join sent"),
        ("listenRequestMs", "POST .../media/listen sent"),
        ("gatheredMs", "ICE gathering complete"),
        ("answerRequestMs", "POST .../media/answer sent"),
        ("connectedMs", "connection state connected"),
        ("firstPacketMs", "first RTP packet (getStats, 20 ms polls)"),
        ("heardMs", "heard: AnalyserNode RMS > 0.02"),
        ("statsHeardMs", "heard: getStats energy (20 ms polls)"),
    ):
        print(
            _row(
                f"browser, from the tap: {label}" if key == "joinRequestMs" else f"  {label}",
                [j[key] for j in joins],
            )
        )
    browser_p50 = percentile([j["heardMs"] for j in joins], 50)
    from_request_p50 = percentile([j["heardFromJoinRequestMs"] for j in joins], 50)
    print(_row("browser, from POST join: heard", [j["heardFromJoinRequestMs"] for j in joins]))
    print(_row("aiortc bot, from POST join: offer/answer done", list(bots.signaled_ms)))
    print(_row("  ICE + DTLS connected", list(bots.connected_ms)))
    print(_row("  first decoded frame > -45 dBFS", list(bots.first_audio_ms)))
    slow_bots = sum(1 for v in bots.connected_ms if v > SLOW_CONNECT_MS)
    slow_browsers = sum(1 for j in joins if (j["connectedMs"] or 0) > SLOW_CONNECT_MS)
    print(
        f"joins connecting later than {SLOW_CONNECT_MS:.0f} ms: browser {slow_browsers} of "
        f"{len(joins)}, bot {slow_bots} of {len(bots.connected_ms)}"
    )
    bot_p50 = percentile(bots.first_audio_ms, 50)
    ratio = browser_p50 / bot_p50
    ratio_request = from_request_p50 / bot_p50
    print(
        f"ratio browser / bot (p50): {ratio:.2f} from the tap, {ratio_request:.2f} from POST join"
    )
    print()
    print("stage move: A's page calls POST /speakers for B -> A's analyser hears B")
    print(head)
    print(_row("API call -> A hears B (B unmutes when shown)", [m["heardMs"] for m in moves]))
    print(_row("  the API call itself", [m["apiCallMs"] for m in moves]))
    print(_row("  after it, in B's page: shown on stage", [m["bShownOnStageMs"] for m in moves]))
    print(_row("  after it, in B's page: unmute tapped", [m["bUnmuteTapMs"] for m in moves]))
    print(
        _row("  after it, in B's page: ICE gathering complete", [m["bGatheredMs"] for m in moves])
    )
    print(
        _row(
            "  after it, in B's page: stage connection up", [m["bStageConnectedMs"] for m in moves]
        )
    )
    print(
        _row(
            "  B's unmute tap -> A hears B (two pages' clocks)",
            [m["unmuteToHeardMs"] for m in moves],
        )
    )
    print(
        json.dumps(
            {
                "reps": reps,
                "cold_load_p50_ms": round(
                    percentile([ld["cold"]["shownMs"] for ld in loads], 50), 1
                ),
                "warm_load_p50_ms": round(
                    percentile([ld["warm"]["shownMs"] for ld in loads], 50), 1
                ),
                "cold_shell_bytes": round(
                    median([ld["cold"]["shellEncodedBytes"] for ld in loads])
                ),
                "warm_shell_transfer_bytes": round(
                    median([ld["warm"]["shellTransferBytes"] for ld in loads])
                ),
                "bundle_gzip_bytes": zipped,
                "join_to_sound_p50_ms": round(browser_p50, 1),
                "join_to_sound_p95_ms": round(percentile([j["heardMs"] for j in joins], 95), 1),
                "bot_join_to_audio_p50_ms": round(bot_p50, 1),
                "join_ratio_browser_bot": round(ratio, 2),
                "join_ratio_from_request": round(ratio_request, 2),
                "bot_slow_joins": slow_bots,
                "stage_move_p50_ms": round(percentile([m["heardMs"] for m in moves], 50), 1),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reps", type=int, default=5, help="repetitions of each figure (default 5)"
    )
    parser.add_argument(
        "--bot-joins", type=int, default=10, help="aiortc bot joins to compare with (default 10)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=180.0, help="bound of the whole run (default 180)"
    )
    args = parser.parse_args()
    if not 1 <= args.reps <= 20 or not 3 <= args.bot_joins <= 30:
        parser.error("--reps must be 1..20 and --bot-joins 3..30")
    if not 60 <= args.max_seconds <= 900:
        parser.error("--max-seconds must be 60..900")
    deadline = time.monotonic() + args.max_seconds
    report = run(lambda: bench(args, deadline), args.max_seconds)
    print_report(report, args.reps)


if __name__ == "__main__":
    main()
