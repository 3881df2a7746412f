"""Socket claimants for bench/rush.py: many account sockets in one light process.

    python bench/_claim_sockets.py HOST PORT TOKENS_FILE FIRST COUNT [--open-at UNIX_S]

Opens COUNT account sockets (`/api/v1/me/ws`) with the tokens at lines FIRST..FIRST+COUNT-1 of
TOKENS_FILE, waits for each one's `hello`, prints `READY <n>` on stdout, then waits for the
claim window's opening pushed by the server (`waitlist.window` with state `open`) and answers it
at once with `{"type": "pass.claim"}`, as a person's app would. When every socket has its
`pass.claim_result` (or after a bound), prints one JSON line: results by kind, when the pushes
arrived and the answers came (this machine's monotonic clock, in seconds) and each claim's
time from send to answer in milliseconds (the percentiles).

A WebSocket client of its own, on purpose: the handshake and RFC 6455 frames (masked text out,
unmasked text in, pings answered) in a few lines per connection, so one process holds 10,000+
sockets in little memory and CPU (a full client library costs several times more per socket).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import time
from pathlib import Path

try:
    import uvloop
except ImportError:  # plain asyncio works too, a little slower
    uvloop = None  # type: ignore[assignment]

MASK = b"\x11\x22\x33\x44"


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask); payloads here are short (< 126 bytes)."""
    body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + MASK + body


CLAIM = masked_frame(0x1, b'{"type":"pass.claim"}')


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    opcode, length = head[0] & 0x0F, head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    elif length == 127:
        (length,) = struct.unpack("!Q", await reader.readexactly(8))
    return opcode, await reader.readexactly(length)


class Claimant:
    """One account socket: connect, hello, wait for the opening, claim, read the answer."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port, self.token = host, port, token
        self.pushed_at = self.sent_at = self.answered_at = 0.0
        self.result = ""

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                f"GET /api/v1/me/ws?token={self.token} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await self.reader.readuntil(b"\r\n\r\n")
        if not status.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"no WebSocket: {status[:60]!r}")
        while await self.next_message() != "hello":
            pass

    async def next_message(self) -> str:
        """The next text message's type (pings are answered on the way)."""
        while True:
            opcode, payload = await read_frame(self.reader)
            if opcode == 0x9:
                self.writer.write(masked_frame(0xA, payload))
            elif opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise ConnectionError(f"closed by the server: {code} {payload[2:].decode()}")
            elif opcode == 0x1:
                self.last = json.loads(payload)
                return str(self.last["type"])

    async def rush(self) -> None:
        while True:
            kind = await self.next_message()
            if kind == "waitlist.window" and (self.last.get("window") or {}).get("state") == "open":
                break
        self.pushed_at = time.monotonic()
        self.writer.write(CLAIM)
        self.sent_at = time.monotonic()
        while await self.next_message() != "pass.claim_result":
            pass
        self.answered_at = time.monotonic()
        self.result = str(self.last["result"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("tokens")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--at-once", type=int, default=200, help="connections opened at a time")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    lines = Path(args.tokens).read_text().split()
    tokens = lines[args.first : args.first + args.count]
    claimants = [Claimant(args.host, args.port, t) for t in tokens]
    limit = asyncio.Semaphore(args.at_once)
    connected = 0
    all_connected = asyncio.Event()

    async def run(claimant: Claimant) -> None:
        nonlocal connected
        async with limit:
            await claimant.connect()
        connected += 1
        if connected == len(claimants):
            all_connected.set()
        await claimant.rush()  # reads from now on (pings answered) until the claim is answered

    tasks = [asyncio.create_task(run(c)) for c in claimants]
    await asyncio.wait_for(all_connected.wait(), args.timeout)
    print(f"READY {len(claimants)}", flush=True)
    done, pending = await asyncio.wait(tasks, timeout=args.timeout)
    failures: dict[str, int] = {}
    for task in done:
        if task.exception() is not None:
            kind = str(task.exception())[:60]
            failures[kind] = failures.get(kind, 0) + 1
    answered = [c for c in claimants if c.result]
    latencies = sorted((c.answered_at - c.sent_at) * 1000 for c in answered)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] if latencies else 0

    results: dict[str, int] = {}
    for c in answered:
        results[c.result] = results.get(c.result, 0) + 1
    print(json.dumps({
        "sockets": len(claimants),
        "answered": len(answered),
        "unanswered": len(pending),
        "failures": failures,
        "results": results,
        "first_push": min((c.pushed_at for c in answered), default=0),
        "last_push": max((c.pushed_at for c in answered), default=0),
        "first_sent": min((c.sent_at for c in answered), default=0),
        "last_answer": max((c.answered_at for c in answered), default=0),
        "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99),
    }), flush=True)
    for c in claimants:
        c.writer.close()


if __name__ == "__main__":
    if uvloop is not None:
        uvloop.install()
    asyncio.run(main())
