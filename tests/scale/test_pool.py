"""Rooms across a pool of media nodes, on a topology of namespaces (tests/scale/poollab.py).

Two API nodes (``MITALK_NODE_ROLE=api``) share PostgreSQL and Redis; three media nodes
(``MITALK_NODE_ROLE=media``: Janus + agent) register in Redis. Bots on a client host use only
the public API of either API node. ``MITALK_EDGE_VIEWERS=2`` makes a room take a second edge
at its third listener, so a handful of bots spreads a room over two media nodes;
``MITALK_STAGE_FORWARDS=1`` makes the stage feed one edge itself and a third node be fed by that
edge's relay (two hops).

The tests run in order on one lab (module scope), each leaving the pool as it found it:
spread over two edges, a listener never heard, a mute that holds on every edge, an edge
killed, the stage node killed, an API node killed, a node that comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import websockets
from redis import Redis
from sqlalchemy import text

from conftest import POSTGRES_URL, _truncate_postgres, run_aside
from mitalk.access.seed import seed_sessions, seed_waitlist
from mitalk.core.database import Database
from mitalk.media.audio import (
    DEFAULT_SOUND_THRESHOLD_DBFS,
    Pcm,
    dominant_frequency,
    level_dbfs,
    sounding_fraction,
)
from mitalk.media.bots import PcmSourceTrack
from mitalk.media.coordinator import stage_id_of
from mitalk.media.roombot import RATE, RoomBot
from scale.poollab import ADDRESSES, SECRET_KEY, PoolLab, pool_lab

T = TypeVar("T")

SPEAKER_HZ = 440.0
GUEST_HZ = 660.0
WAIT = 20.0  # bounded waits, generous for a loaded 2-core machine
EDGE_VIEWERS = 2
STAGE_FORWARDS = 1


def unix_socket_url(url: str) -> str:
    """The test PostgreSQL by its Unix socket (files cross network namespaces; TCP on the
    host's loopback does not)."""
    parts = urllib.parse.urlsplit(url)
    user = parts.username or "mitalk"
    return f"postgresql+asyncpg://{user}@/{parts.path.lstrip('/')}?host=/var/run/postgresql"


@dataclass
class Account:
    id: str
    token: str


async def seed_accounts(count: int) -> list[Account]:
    """``count`` active members with session tokens, straight into the database."""
    db = Database(POSTGRES_URL)
    try:
        first, _ = await seed_waitlist(db, count)
        async with db.engine.begin() as conn:
            await conn.execute(text("UPDATE users SET status = 'active' WHERE id LIKE 'seed%'"))
            await conn.execute(text("DELETE FROM waitlist"))
        tokens = await seed_sessions(db, first, count)
    finally:
        await db.dispose()
    return [Account(f"seed{first + i:020d}", t) for i, t in enumerate(tokens)]


@pytest.fixture(scope="module")
def lab(postgres_ready: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PoolLab]:
    run_aside(_truncate_postgres(postgres_ready))
    folder = tmp_path_factory.mktemp("pool")
    with pool_lab(folder) as lab:
        database = unix_socket_url(postgres_ready)
        for name in ("m1", "m2", "m3"):
            lab.add_media_node(name)
        for name in ("api1", "api2"):
            lab.add_api_node(
                name,
                database,
                MITALK_EDGE_VIEWERS=str(EDGE_VIEWERS),
                MITALK_STAGE_FORWARDS=str(STAGE_FORWARDS),
                # One host account opens a room per test, back to back, and every bot's join,
                # stage move and leave counts too: the 30-a-minute cap (its own tests are in
                # tests/rooms) is not what this module tests.
                MITALK_ROOM_ACTIONS_PER_MINUTE="100000",
            )
        try:
            for name in ("m1", "m2", "m3"):
                lab.wait_healthy(name, f"http://{ADDRESSES[name]}:8190")
            for name in ("api1", "api2"):
                lab.wait_healthy(name, lab.api(name))
            yield lab
        except BaseException:
            for node in lab.nodes.values():
                print(f"--- {node.name} ---\n{node.tail(40)}")
            raise


@pytest.fixture(scope="module")
def accounts() -> list[Account]:
    return run_aside(seed_accounts(12))


def on_client(lab: PoolLab, scenario: Callable[[], Awaitable[T]], timeout: float = 180) -> T:
    """Run a scenario on the client host (bots' sockets live in its namespace)."""

    async def main() -> T:
        return await scenario()

    return lab.hosts["client"].start(main).result(timeout)


def redis_of(lab: PoolLab) -> Redis:
    """A Redis client on the lab's store (the test's own thread enters the client host)."""
    return Redis(host=ADDRESSES["store"], port=6379, db=0)


def placement(lab: PoolLab, room_id: str) -> dict[str, Any]:
    """The room's stage node, edges and listeners per node, as the API nodes keep them."""
    with lab.hosts["client"].entered():
        redis = redis_of(lab)
        try:
            room = {
                k.decode(): v.decode()
                for k, v in redis.hgetall(f"mitalk:media:room:{room_id}").items()
            }
            viewers = {
                k.decode(): int(v)
                for k, v in redis.hgetall(f"mitalk:media:viewers:{room_id}").items()
            }
            seats = {
                k.decode(): json.loads(v)
                for k, v in redis.hgetall(f"mitalk:media:seats:{room_id}").items()
            }
        finally:
            redis.close()
    edges = sorted(k[5:] for k in room if k.startswith("edge:"))
    feeds = {k[5:]: v for k, v in room.items() if k.startswith("feed:")}
    return {
        "stage": room.get("stage"),
        "edges": edges,
        "feeds": feeds,
        "viewers": viewers,
        "seats": seats,
    }


# Audio checks -------------------------------------------------------------------------------


def is_tone(samples: Pcm, hz: float) -> bool:
    return (
        len(samples) > RATE // 4
        and sounding_fraction(samples, RATE) > 0.8
        and abs(dominant_frequency(samples, RATE) - hz) < 5
    )


async def until(predicate: Callable[[], Any], timeout: float, what: str) -> float:
    """Poll until true; the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def hears(bot: RoomBot, hz: float, timeout: float = WAIT) -> float:
    """Wait until ``bot`` hears a steady ``hz`` tone in its last 0.6 s; seconds it took."""
    return await until(
        lambda: is_tone(bot.timeline.samples(time.monotonic() - 0.6), hz), timeout, f"{hz} Hz"
    )


GAP_SECONDS = 0.3


def resumed_after_gap(bot: RoomBot, since: float) -> float | None:
    """When sound came back after a silence of GAP_SECONDS or more that began after ``since``."""
    last_loud, resumed = since, None
    for at, samples in list(bot.timeline.frames):
        if at < since or level_dbfs(samples) <= DEFAULT_SOUND_THRESHOLD_DBFS:
            continue
        if at - last_loud >= GAP_SECONDS:
            resumed = at
        last_loud = at
    return resumed


async def heard_again(bot: RoomBot, since: float, timeout: float = WAIT) -> float:
    """Wait until ``bot``'s sound broke off after ``since`` and came back as the speaker's tone.

    Returns the seconds from ``since`` to the first sound after the break: a listener that
    never lost the stream does not count as recovered (its last 0.6 s would pass a tone check
    straight after a kill).
    """

    def back() -> bool:
        resumed = resumed_after_gap(bot, since)
        return resumed is not None and is_tone(
            bot.timeline.samples(max(resumed, time.monotonic() - 0.6)), SPEAKER_HZ
        )

    await until(back, timeout, "the stream to break off and come back")
    resumed = resumed_after_gap(bot, since)
    assert resumed is not None
    return resumed - since


async def heard_next(bot: RoomBot, seconds: float) -> Pcm:
    start = time.monotonic()
    await asyncio.sleep(seconds)
    samples = bot.timeline.samples(start)
    assert len(samples) > RATE * seconds * 0.5, f"only {len(samples)} samples in {seconds}s"
    return samples


def tone_level(samples: Pcm, hz: float) -> float:
    """How much of the signal's energy sits at ``hz`` (0..1)."""
    import numpy as np

    signal = samples.astype(np.float64)
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / RATE)
    band = (freqs > hz - 10) & (freqs < hz + 10)
    total = spectrum[1:].sum()
    return float(spectrum[band].sum() / total) if total else 0.0


def bot(lab: PoolLab, who: Account, room_id: str, api: str = "api1", hz: float | None = None,
        **options: Any) -> RoomBot:  # fmt: skip
    if hz:
        options["source"] = lambda: PcmSourceTrack.from_tone(hz)
    return RoomBot(lab.api(api), who.token, room_id, **options)


async def call(lab: PoolLab, who: Account, method: str, path: str, body: Any = None,
               api: str = "api1") -> httpx.Response:  # fmt: skip
    async with httpx.AsyncClient(base_url=lab.api(api), trust_env=False, timeout=20) as http:
        return await http.request(
            method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {who.token}"}
        )


async def named(lab: PoolLab, who: Account, name: str) -> None:
    """Give a seeded account a name: speaking needs one (409 name_required without)."""
    saved = await call(lab, who, "PATCH", "/me/profile", {"name": name})
    assert saved.status_code == 200, saved.text


@contextlib.asynccontextmanager
async def room_on_two_edges(
    lab: PoolLab, host: Account, audience: list[Account], **listener_options: Any
) -> AsyncIterator[tuple[str, RoomBot, list[RoomBot]]]:
    """A live room: the host speaks 440 Hz, the audience (4) listens, spread over two edges.

    Listeners sign their signaling through both API nodes in turn; each must hear the host.
    """
    await named(lab, host, "Host")
    created = await call(lab, host, "POST", "/rooms", {"title": "Pool"})
    assert created.status_code == 201, created.text
    room_id = str(created.json()["id"])
    speaker = bot(lab, host, room_id, hz=SPEAKER_HZ, unmute_on_stage=True)
    listeners = [
        bot(lab, who, room_id, api="api2" if i % 2 else "api1", **listener_options)
        for i, who in enumerate(audience)
    ]
    try:
        await speaker.start()
        for listener in listeners:
            await listener.start()
        for listener in listeners:
            await hears(listener, SPEAKER_HZ)
        yield room_id, speaker, listeners
    finally:
        for one in (*listeners, speaker):
            with contextlib.suppress(Exception):
                await one.close()
        for api in ("api1", "api2"):  # one of them may be the node a test killed
            with contextlib.suppress(Exception):
                if (await call(lab, host, "POST", f"/rooms/{room_id}/end", api=api)).is_success:
                    break


def edges_of(where: dict[str, Any]) -> list[str]:
    """Media nodes serving listeners of the room."""
    return sorted(node for node, count in where["viewers"].items() if count > 0)


def node_of(where: dict[str, Any], user_id: str) -> str:
    return str(where["seats"][user_id]["node"])


def registered_generation(lab: PoolLab, name: str) -> str | None:
    """The generation a media node's registry record names, if it has one (alive)."""
    with lab.hosts["client"].entered():
        redis = redis_of(lab)
        try:
            record = redis.get(f"mitalk:media:node:{name}")
        finally:
            redis.close()
    return json.loads(record)["generation"] if record else None


def restart(lab: PoolLab, name: str, timeout: float = 60) -> None:
    """Start a killed node again and wait until it is back: a media node as a new generation
    in the registry (a stale record of the dead one may linger for its time to live)."""
    stale = registered_generation(lab, name) if name.startswith("m") else None
    lab.nodes[name].start()
    if not name.startswith("m"):
        lab.wait_healthy(name, lab.api(name))
        return
    deadline = time.monotonic() + timeout
    while registered_generation(lab, name) in (None, stale):
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} did not come back:\n{lab.nodes[name].tail()}")
        time.sleep(0.1)


# Tests --------------------------------------------------------------------------------------


def test_listeners_spread_over_two_edges_all_hear_the_speaker(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]

    async def scenario() -> tuple[dict[str, Any], list[int]]:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, _):
            # Trickled candidates reach a listener's own seat on whichever edge it is, through
            # either API node; someone in the room without a connection has none to add to.
            path = f"/rooms/{room_id}/media/candidates"
            body = {"candidates": [], "completed": True}
            statuses = [
                (await call(lab, who, "POST", path, body, api=api)).status_code
                for who, api in ((audience[0], "api2"), (audience[1], "api1"))
            ]
            outsider = accounts[6]
            await call(lab, outsider, "POST", f"/rooms/{room_id}/join")
            refused = await call(lab, outsider, "POST", path, body)
            assert refused.json()["error"]["code"] == "no_media_connection", refused.text
            statuses.append(refused.status_code)
            return placement(lab, room_id), statuses

    where, statuses = on_client(lab, scenario)
    assert statuses == [204, 204, 409], statuses
    # Two media nodes serve the room's listeners: the stage node and one edge fed over SRTP.
    assert len(edges_of(where)) == 2, where
    assert where["stage"] in edges_of(where) and len(where["edges"]) == 1, where
    assert all(where["viewers"][node] == EDGE_VIEWERS for node in edges_of(where)), where


def turn_hosts(listener: RoomBot) -> set[str]:
    """The hosts of the TURN URLs a bot was handed for its connection."""
    assert listener.configuration is not None and listener.configuration.iceServers
    return {
        url.split(":")[1]
        for server in listener.configuration.iceServers
        for url in ([server.urls] if isinstance(server.urls, str) else server.urls)
    }


def test_relay_only_listeners_hear_through_the_turn_of_their_own_edge(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]

    async def scenario() -> tuple[dict[str, Any], list[set[str]], list[int]]:
        # Relay candidates only: each listener is heard from only through the TURN it was
        # handed, and must hear the speaker through it.
        async with room_on_two_edges(lab, host, audience, relay=True) as (room_id, _, listeners):
            where = placement(lab, room_id)
            hosts = [turn_hosts(listener) for listener in listeners]
            # Someone on stage about to offer gets the stage node's TURN.
            asked = await call(lab, host, "GET", f"/rooms/{room_id}/media/ice-servers")
            assert asked.status_code == 200, asked.text
            urls = [u for s in asked.json()["ice_servers"] for u in s["urls"]]
            stage_ports = [
                int(u.split(":")[2].split("?")[0])
                for u in urls
                if u.split(":")[1] == ADDRESSES[where["stage"]]
            ]
            return where, hosts, stage_ports

    where, hosts, stage_ports = on_client(lab, scenario)
    assert len(edges_of(where)) == 2, where
    for who, handed in zip(accounts[1:5], hosts, strict=True):
        assert handed == {ADDRESSES[node_of(where, who.id)]}, (where, hosts)
    assert stage_ports and set(stage_ports) == {3478}, stage_ports


def test_a_listener_on_any_edge_is_never_heard(lab: PoolLab, accounts: list[Account]) -> None:
    host, *audience = accounts[0:5]

    async def scenario() -> tuple[Pcm, list[Pcm], dict[str, Any]]:
        # Every listener forces a 660 Hz send track into its answer, as a tampered client would.
        async with room_on_two_edges(
            lab, host, audience, source=lambda: PcmSourceTrack.from_tone(GUEST_HZ),
            send_as_listener=True,
        ) as (room_id, speaker, listeners):  # fmt: skip
            where = placement(lab, room_id)
            on_stage = await heard_next(speaker, 2.0)
            audience_heard = [await heard_next(listener, 1.0) for listener in listeners]
            return on_stage, audience_heard, where

    on_stage, audience_heard, where = on_client(lab, scenario)
    assert len(edges_of(where)) == 2, where
    # The host hears the stage's mix without itself: nothing, since no listener is in it.
    assert sounding_fraction(on_stage, RATE) < 0.05
    for heard in audience_heard:
        assert tone_level(heard, GUEST_HZ) < 0.01 and is_tone(heard, SPEAKER_HZ)


async def speaker_named(socket: Any, user_id: str | None, timeout: float = WAIT) -> None:
    """Read a room socket until ``room.active_speaker`` names ``user_id``."""
    async with asyncio.timeout(timeout):
        async for raw in socket:
            message = json.loads(raw)
            if message.get("type") == "room.active_speaker" and message["user_id"] == user_id:
                return


def test_the_active_speaker_reaches_the_sockets_of_every_api_node(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]

    async def scenario() -> None:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, _):
            headers = {"Authorization": f"Bearer {audience[0].token}"}
            urls = [f"ws://{ADDRESSES[api]}:8000/api/v1/rooms/{room_id}/ws"
                    for api in ("api1", "api2")]  # fmt: skip
            async with (
                websockets.connect(urls[0], additional_headers=headers) as one,
                websockets.connect(urls[1], additional_headers=headers) as two,
            ):
                # The host's tone is heard on the stage node (Janus's talking events, passed on
                # by its agent) and named on both API nodes' sockets.
                for socket in (one, two):
                    await speaker_named(socket, host.id)
                muted = await call(lab, host, "POST", f"/rooms/{room_id}/mute",
                                   {"user_id": host.id}, api="api2")  # fmt: skip
                assert muted.status_code == 200, muted.text
                # Muted: nobody is named any more, whatever the host still sends.
                for socket in (one, two):
                    await speaker_named(socket, None)

    on_client(lab, scenario)


def test_a_moderators_mute_holds_on_every_edge(lab: PoolLab, accounts: list[Account]) -> None:
    host, guest, *audience = accounts[0:6]

    async def scenario() -> tuple[list[float], list[float], dict[str, Any]]:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, listeners):
            await named(lab, guest, "Guest")
            on_stage = bot(lab, guest, room_id, api="api2", hz=GUEST_HZ, unmute_on_stage=True)
            try:
                await on_stage.start()
                brought = await call(lab, host, "POST", f"/rooms/{room_id}/speakers",
                                     {"user_id": guest.id})  # fmt: skip
                assert brought.status_code == 200, brought.text
                for listener in listeners:
                    await until(
                        lambda listener=listener: tone_level(
                            listener.timeline.samples(time.monotonic() - 0.6), GUEST_HZ
                        ) > 0.1,
                        WAIT, "the guest on stage",
                    )  # fmt: skip
                before = [tone_level(await heard_next(x, 1.0), GUEST_HZ) for x in listeners]
                muted = await call(lab, host, "POST", f"/rooms/{room_id}/mute",
                                   {"user_id": guest.id}, api="api2")  # fmt: skip
                assert muted.status_code == 200, muted.text
                # Bounded wait for the mute to reach the stage node (an event through Redis, an
                # API node, the agent), then what each listener hears for 1.5 s.
                for listener in listeners:
                    await until(
                        lambda listener=listener: tone_level(
                            listener.timeline.samples(time.monotonic() - 0.6), GUEST_HZ
                        ) < 0.01,
                        WAIT, "the guest to be muted",
                    )  # fmt: skip
                after = [tone_level(await heard_next(x, 1.5), GUEST_HZ) for x in listeners]
                return before, after, placement(lab, room_id)
            finally:
                await on_stage.close()

    before, after, where = on_client(lab, scenario)
    assert len(edges_of(where)) == 2, where
    assert all(level > 0.1 for level in before), before
    # Muted by the moderator through the other API node: silent on both edges.
    assert all(level < 0.01 for level in after), after


def test_an_edge_killed_moves_its_listeners_who_hear_again(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]
    recovered: list[float] = []

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, listeners):
            before = placement(lab, room_id)
            edge = before["edges"][0]
            moved = [x for x, who in zip(listeners, audience, strict=True)
                     if node_of(before, who.id) == edge]  # fmt: skip
            assert moved, before
            await asyncio.to_thread(lab.nodes[edge].kill)  # its Janus and agent, at once
            killed = time.monotonic()
            for listener in moved:
                recovered.append(await heard_again(listener, killed))
            for listener in listeners:
                await hears(listener, SPEAKER_HZ)
            return before, placement(lab, room_id)

    try:
        before, after = on_client(lab, scenario)
    finally:
        dead = [n for n in ("m1", "m2", "m3") if lab.nodes[n].process.poll() is not None]  # type: ignore[union-attr]
        for name in dead:
            restart(lab, name)
    edge = before["edges"][0]
    assert edge not in edges_of(after), after
    assert all(seat["node"] != edge for seat in after["seats"].values()), after
    print(f"edge {edge} killed: its listeners heard again after {recovered} s")


def test_the_stage_node_killed_is_recreated_and_speakers_reconnect(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]
    recovered: list[float] = []

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with room_on_two_edges(lab, host, audience) as (room_id, speaker, listeners):
            before = placement(lab, room_id)
            connections = speaker.connections
            await asyncio.to_thread(lab.nodes[before["stage"]].kill)
            killed = time.monotonic()
            for listener in listeners:
                recovered.append(await heard_again(listener, killed))
            return before, placement(lab, room_id), speaker.connections - connections

    try:
        before, after, reconnects = on_client(lab, scenario)
    finally:
        for name in ("m1", "m2", "m3"):
            if lab.nodes[name].process.poll() is not None:  # type: ignore[union-attr]
                restart(lab, name)
    assert after["stage"] not in (None, before["stage"]), (before, after)
    assert reconnects >= 1  # the speaker was told (room.media_reconnect) and joined again
    print(f"stage node {before['stage']} killed: listeners heard again after {recovered} s")


def test_an_api_node_killed_its_clients_resume_on_another(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, guest, *audience = accounts[0:6]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, listeners):
            url = f"ws://{ADDRESSES['api1']}:8000/api/v1/rooms/{room_id}/ws"
            headers = {"Authorization": f"Bearer {guest.token}"}
            joined = await call(lab, guest, "POST", f"/rooms/{room_id}/join", api="api2")
            assert joined.status_code == 200, joined.text
            async with websockets.connect(url, additional_headers=headers) as socket:
                snapshot = json.loads(await socket.recv())
                assert snapshot["type"] == "snapshot"
                seq = snapshot["seq"]
                # api1 dies; meanwhile things happen in the room through api2.
                await asyncio.to_thread(lab.nodes["api1"].kill)
                with contextlib.suppress(websockets.ConnectionClosed, TimeoutError):
                    async with asyncio.timeout(5):
                        async for _ in socket:
                            pass
            for path in ("hand", "hand"):
                method = "POST" if path == "hand" and not _raised[0] else "DELETE"
                _raised[0] = not _raised[0]
                done = await call(lab, guest, method, f"/rooms/{room_id}/{path}", api="api2")
                assert done.status_code < 300, done.text
            # The client reconnects to the other node and resumes from its seq.
            url2 = f"ws://{ADDRESSES['api2']}:8000/api/v1/rooms/{room_id}/ws?after={seq}"
            async with websockets.connect(url2, additional_headers=headers) as socket:
                resumed = json.loads(await socket.recv())
                missed = [json.loads(await socket.recv()) for _ in range(2)]
            # Media never depended on api1: listeners whose seats it made still hear.
            still = all([await hears(x, SPEAKER_HZ) >= 0 for x in listeners])
            return [resumed], missed, still

    _raised[0] = False
    try:
        resumed, missed, still = on_client(lab, scenario)
    finally:
        restart(lab, "api1")
    assert resumed[0]["type"] == "resumed", resumed
    assert [e["type"] for e in missed] == ["room.hand_raised", "room.hand_lowered"], missed
    assert [e["seq"] for e in missed] == [resumed[0]["after"] + 1, resumed[0]["after"] + 2]
    assert still


_raised = [False]


def test_a_node_that_comes_back_is_used_again(lab: PoolLab, accounts: list[Account]) -> None:
    host, *audience = accounts[0:7]
    # m2 crashes and comes back: a new generation, empty Janus, same name.
    lab.nodes["m2"].kill()
    restart(lab, "m2")

    async def scenario() -> dict[str, Any]:
        async with room_on_two_edges(lab, host, audience[:4]) as (room_id, _, _):
            extra = [bot(lab, who, room_id) for who in audience[4:6]]
            try:
                for listener in extra:
                    await listener.start()
                for listener in extra:
                    await hears(listener, SPEAKER_HZ)
                return placement(lab, room_id)
            finally:
                for listener in extra:
                    await listener.close()

    where = on_client(lab, scenario)
    # Six listeners at two per edge need all three media nodes, the restarted one included.
    assert edges_of(where) == ["m1", "m2", "m3"], where


def agent(lab: PoolLab, name: str, method: str, path: str, body: Any = None) -> Any:
    """Call a media node's agent (its private API) as an API node does."""
    token = hmac.new(SECRET_KEY.encode(), b"mitalk-media-agent", hashlib.sha256).hexdigest()
    with lab.hosts["client"].entered():
        response = httpx.request(
            method,
            f"http://{ADDRESSES[name]}:8190/agent/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            trust_env=False,
            timeout=10,
        )
    response.raise_for_status()
    return response.json()


def agent_state(lab: PoolLab, name: str) -> dict[str, Any]:
    """What a media node's agent holds."""
    state: dict[str, Any] = agent(lab, name, "GET", "/state")
    return state


def stage_of(room_id: str) -> str:
    """A room's stage id as the pool derives it from the shared key."""
    return str(stage_id_of(SECRET_KEY.encode(), room_id))


def test_an_edge_whose_feed_was_lost_is_fed_again_by_the_sweep(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:5]
    recovered: list[float] = []

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], int]:
        async with room_on_two_edges(lab, host, audience) as (room_id, _, listeners):
            before = placement(lab, room_id)
            edge = before["edges"][0]
            fed = [x for x, who in zip(listeners, audience, strict=True)
                   if node_of(before, who.id) == edge]  # fmt: skip
            connections = [x.connections for x in fed]
            # Half placed: the edge carries the room but the stage no longer forwards to it (as
            # after a placement that failed between the two calls).
            await asyncio.to_thread(
                agent, lab, before["stage"], "DELETE",
                f"/stages/{stage_of(room_id)}/forwards/{edge}",
            )  # fmt: skip
            cut = time.monotonic()
            for listener in fed:
                recovered.append(await heard_again(listener, cut, timeout=60))
            moved = sum(x.connections - n for x, n in zip(fed, connections, strict=True))
            return before, placement(lab, room_id), moved

    before, after, moved = on_client(lab, scenario)
    # Repaired in place: the same edge, fed again, its listeners never had to reconnect.
    assert after["edges"] == before["edges"] and after["feeds"] == before["feeds"], after
    assert moved == 0, moved
    print(f"a lost forward: the edge's listeners heard again after {recovered} s")


def test_what_a_node_holds_that_nothing_records_is_removed_by_the_sweep(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:3]

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with room_on_two_edges(lab, host, audience[:2]) as (room_id, _, _):
            where = placement(lab, room_id)
            spare = next(n for n in ("m1", "m2", "m3") if n not in edges_of(where))
            stage_id = stage_of(room_id)
            # An API node died between making an edge and recording it: a mountpoint on the
            # spare node and the stage forwarding to it, which nothing in Redis names.
            carried = await asyncio.to_thread(agent, lab, spare, "PUT", f"/mountpoints/{stage_id}")
            await asyncio.to_thread(agent, lab, where["stage"], "PUT",
                                    f"/stages/{stage_id}/forwards/{spare}", carried)  # fmt: skip

            def swept() -> bool:
                left = agent_state(lab, spare)["mountpoints"]
                forwards = agent_state(lab, where["stage"])["stages"].get(stage_id, [])
                return int(stage_id) not in left and spare not in forwards

            await until(lambda: asyncio.to_thread(swept), 60, "the leftovers to be removed")
            return spare, placement(lab, room_id)

    spare, where = on_client(lab, scenario)
    # The room itself is untouched: its stage and edge stay.
    assert spare not in where["edges"] and where["stage"] is not None, where


def test_an_edge_fed_by_another_edge_hears_and_is_fed_again_when_that_edge_dies(
    lab: PoolLab, accounts: list[Account]
) -> None:
    host, *audience = accounts[0:7]
    recovered: list[float] = []

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with room_on_two_edges(lab, host, audience[:4]) as (room_id, _, listeners):
            extra = [bot(lab, who, room_id) for who in audience[4:6]]
            try:
                for listener in extra:
                    await listener.start()
                for listener in extra:
                    await hears(listener, SPEAKER_HZ)
                before = placement(lab, room_id)
                relays = await asyncio.to_thread(
                    lambda: {n: agent_state(lab, n)["relays"] for n in before["edges"]}
                )
                second = next(e for e, feeder in before["feeds"].items() if feeder != "stage")
                relay = before["feeds"][second]
                fed = [
                    x
                    for x, who in zip([*listeners, *extra], audience, strict=True)
                    if node_of(before, who.id) == second
                ]
                assert fed, before
                await asyncio.to_thread(lab.nodes[relay].kill)
                killed = time.monotonic()
                for listener in fed:
                    recovered.append(await heard_again(listener, killed))
                for listener in [*listeners, *extra]:
                    await hears(listener, SPEAKER_HZ)
                return before, relays, placement(lab, room_id)
            finally:
                for listener in extra:
                    await listener.close()

    try:
        before, relays, after = on_client(lab, scenario)
    finally:
        for name in ("m1", "m2", "m3"):
            if lab.nodes[name].process.poll() is not None:  # type: ignore[union-attr]
                restart(lab, name)
    # Two hops: the stage fed one edge (MITALK_STAGE_FORWARDS=1), that edge relayed to the third.
    assert len(before["edges"]) == 2, before
    second = next(e for e, feeder in before["feeds"].items() if feeder != "stage")
    relay = before["feeds"][second]
    assert before["feeds"][relay] == "stage", before
    assert list(relays[relay].values()) == [[second]], relays  # its agent relays to that one
    # The relay died: the edge it fed is fed by the stage now and its listeners heard again.
    assert relay not in after["edges"] and after["feeds"].get(second) == "stage", after
    print(f"relay edge {relay} killed: listeners of {second} heard again after {recovered} s")
