"""The room socket's direct path: events written to live sockets from the fan-out itself.

These run the real app behind a real uvicorn (in this process, on a free loopback port) with
``DirectWebSocketProtocol``, as ``mitalk serve`` does, and talk to it with websockets' client:
the TestClient used elsewhere has no frame writer, so there every socket takes the queued
path. The writer here counts what it wrote, so the tests can tell the direct path was taken.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from conftest import Clock
from factories import Person
from mitalk.app import create_app
from mitalk.core.settings import Settings
from mitalk.core.ws_protocol import DirectWebSocketProtocol, FrameWriter, WriteResult
from mitalk.realtime.bus import EventBus, RedisEventBus
from mitalk.rooms.events import HandRaised
from rooms.kit import make_members

WAIT = 10.0  # the longest a step waits for the server (a bound, not a measurement)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Node:
    """One app behind uvicorn with the direct protocol; ``written`` counts the writers' results."""

    def __init__(self, app: FastAPI, port: int, written: Counter[WriteResult]) -> None:
        self.app, self.port, self.written = app, port, written

    @property
    def bus(self) -> EventBus:
        bus: EventBus = self.app.state.bus
        return bus

    def url(self, room_id: str, person: Person, query: str = "") -> str:
        tail = f"&{query}" if query else ""
        return f"ws://127.0.0.1:{self.port}/api/v1/rooms/{room_id}/ws?token={person.token}{tail}"

    async def ok(self, person: Person, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as http:
            response = await http.request(
                method, f"/api/v1{path}", json=body, headers=person.headers
            )
        assert response.status_code < 300, response.text
        return None if response.status_code == 204 else response.json()


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[Node]:
    """Serve ``app`` (its lifespan already running) until the block ends."""
    written: Counter[WriteResult] = Counter()

    class Counting(FrameWriter):
        def write(self, frame: bytes) -> WriteResult:
            result = super().write(frame)
            written[result] += 1
            return result

    class Protocol(DirectWebSocketProtocol):
        frame_writer = Counting

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", ws=Protocol, ws_per_message_deflate=False, log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(WAIT):
            while not server.started:
                await asyncio.sleep(0.01)
        yield Node(app, listener.getsockname()[1], written)
    finally:
        server.should_exit = True
        await task
        listener.close()


@pytest.fixture
async def node(app: FastAPI) -> AsyncIterator[Node]:
    async with served(app) as n:
        yield n


async def receive(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    return data


async def ready(ws: ClientConnection) -> int:
    """Read the snapshot, then ping: the pong comes once the socket's reader and writer run
    (the writer starts after the snapshot); the snapshot's seq."""
    snapshot = await receive(ws)
    assert snapshot["type"] == "snapshot", snapshot
    await ws.send(json.dumps({"type": "ping"}))
    assert (await receive(ws))["type"] == "pong"
    return int(snapshot["seq"])


async def nothing_more(ws: ClientConnection, wait: float = 0.3) -> None:
    try:
        message = await asyncio.wait_for(ws.recv(), wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {message!r}")


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; its close code and reason."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), WAIT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def room(node: Node, count: int) -> tuple[str, list[Person]]:
    """A room opened by the first of ``count`` new members."""
    people = await make_members(node.app.state.db, count)
    rid = (await node.ok(people[0], "POST", "/rooms", {"title": "t"}))["id"]
    return rid, people


def raised(rid: str, seq: int, user_id: str = "u") -> HandRaised:
    return HandRaised(room_id=rid, seq=seq, at=now(), user_id=user_id)


async def test_live_sockets_get_each_event_once_in_order_by_the_direct_path(node: Node) -> None:
    rid, people = await room(node, 4)
    async with (
        connect(node.url(rid, people[1])) as a,
        connect(node.url(rid, people[2])) as b,
        connect(node.url(rid, people[3])) as c,
    ):
        seq = await ready(a)
        assert [await ready(ws) for ws in (b, c)] == [seq, seq]
        # Caught up: the next events in order are written straight from the fan-out.
        for n in range(1, 11):
            await node.bus.publish(raised(rid, seq + n))
        for ws in (a, b, c):
            assert [(await receive(ws))["seq"] for _ in range(10)] == list(
                range(seq + 1, seq + 11)
            )
        assert node.written["sent"] == 30

        # Published out of order, from concurrent publishers, some twice: held back and
        # reordered on the queued path, then the sockets go live again.
        base = seq + 10
        order = list(range(base + 1, base + 41))
        random.Random(13).shuffle(order)
        await asyncio.gather(*(node.bus.publish(raised(rid, s)) for s in order + order[:5]))
        for ws in (a, b, c):
            assert [(await receive(ws))["seq"] for _ in range(40)] == list(
                range(base + 1, base + 41)
            )
            await nothing_more(ws, 0.1)  # the duplicates were dropped
        sent = node.written["sent"]
        await node.bus.publish(raised(rid, base + 41))
        assert [(await receive(ws))["seq"] for ws in (a, b, c)] == [base + 41] * 3
        assert node.written["sent"] == sent + 3


async def test_a_slow_reader_does_not_hold_up_the_others_and_misses_nothing(node: Node) -> None:
    rid, people = await room(node, 3)
    async with (
        connect(node.url(rid, people[1]), max_size=None) as slow,
        connect(node.url(rid, people[2]), max_size=None) as fast,
    ):
        seq = await ready(slow)
        await ready(fast)
        slow.transport.pause_reading()  # the slow reader's kernel buffers fill, then its
        big = "x" * 60_000  # server-side buffer passes its high-water mark
        count = 400  # 24 MB: more than the kernel buffers of one loopback connection hold
        for n in range(1, count + 1):
            await node.bus.publish(raised(rid, seq + n, big))
        got = [(await receive(fast))["seq"] for _ in range(count)]
        assert got == list(range(seq + 1, seq + count + 1))
        assert node.written["busy"] >= 1  # the slow socket left the direct path
        slow.transport.resume_reading()
        got = [(await receive(slow))["seq"] for _ in range(count)]
        assert got == list(range(seq + 1, seq + count + 1))  # in order, nothing lost
        # Caught up again: back on the direct path.
        sent = node.written["sent"]
        await node.bus.publish(raised(rid, seq + count + 1))
        assert (await receive(slow))["seq"] == (await receive(fast))["seq"] == seq + count + 1
        assert node.written["sent"] == sent + 2


async def test_a_socket_that_went_away_is_skipped(node: Node) -> None:
    rid, people = await room(node, 3)
    async with connect(node.url(rid, people[2])) as stays:
        seq = await ready(stays)
        gone = await connect(node.url(rid, people[1]))
        await ready(gone)
        gone.transport.abort()  # no close frame: the server finds out when it next reads
        for n in range(1, 6):
            await node.bus.publish(raised(rid, seq + n))
        assert [(await receive(stays))["seq"] for _ in range(5)] == list(range(seq + 1, seq + 6))
        async with asyncio.timeout(WAIT):  # the server lets go of it
            while node.bus.fanout.count(rid) > 1:
                await asyncio.sleep(0.01)
        await node.bus.publish(raised(rid, seq + 6))
        assert (await receive(stays))["seq"] == seq + 6


async def test_removal_end_and_sign_out_still_close_their_sockets(node: Node) -> None:
    rid, people = await room(node, 4)
    host, troll, other, leaver = people
    for person in (troll, other):
        await node.ok(person, "POST", f"/rooms/{rid}/join")
    async with (
        connect(node.url(rid, troll)) as troll_ws,
        connect(node.url(rid, other)) as other_ws,
        connect(node.url(rid, leaver)) as leaver_ws,
    ):
        for ws in (troll_ws, other_ws, leaver_ws):
            await ready(ws)
        await node.ok(host, "POST", f"/rooms/{rid}/remove", {"user_id": troll.id})
        assert (await receive(troll_ws))["type"] == "room.removed"
        assert await closed_with(troll_ws) == (4403, "removed_from_room")
        assert (await receive(other_ws))["user_id"] == troll.id  # the others stay
        assert (await receive(leaver_ws))["user_id"] == troll.id
        await node.ok(leaver, "POST", "/auth/logout")
        assert await closed_with(leaver_ws) == (4401, "session_ended")
        await node.ok(host, "POST", f"/rooms/{rid}/end")
        assert (await receive(other_ws))["type"] == "room.ended"
        assert (await closed_with(other_ws))[0] == 1000


async def test_two_nodes_share_the_stream_through_redis_on_the_direct_path(
    settings: Settings, clock: Clock, redis_url: str
) -> None:
    settings.redis_url = redis_url
    node_a, node_b = create_app(settings, clock=clock), create_app(settings, clock=clock)
    async with (
        node_a.router.lifespan_context(node_a),
        node_b.router.lifespan_context(node_b),
        served(node_a) as a,
        served(node_b) as b,
    ):
        assert isinstance(a.bus, RedisEventBus) and isinstance(b.bus, RedisEventBus)
        rid, (host, guest, other) = await room(a, 3)
        async with connect(b.url(rid, guest)) as on_b, connect(a.url(rid, other)) as on_a:
            seq = await ready(on_b)
            await ready(on_a)
            await a.ok(guest, "POST", f"/rooms/{rid}/join")  # about the guest: queued path
            await a.ok(host, "POST", f"/rooms/{rid}/mute", {"user_id": host.id})
            for ws in (on_b, on_a):
                assert [(await receive(ws))["seq"] for _ in range(2)] == [seq + 1, seq + 2]
            assert b.written["sent"] >= 1 and a.written["sent"] >= 1
