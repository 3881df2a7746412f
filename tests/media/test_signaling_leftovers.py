"""What signaling leaves behind and gives away: no lock kept per room id a request made up,
and no stage id in the offer a listener gets or the answer a speaker gets.

The app runs in this process (managed Janus in the test namespace) so that its lock tables
can be counted after the requests that used to grow them.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection
from aiortc.rtcconfiguration import RTCConfiguration
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from mitalk.app import create_app
from mitalk.core.database import Database
from mitalk.core.migrate import upgrade
from mitalk.core.settings import Settings
from mitalk.media.coordinator import MediaCoordinator
from mitalk.media.locks import KeyedLocks
from rooms.kit import call, make_members, ok, open_room

from .conftest import Netns
from .served import until

JANUS_API_PORT = 8988  # see tests/media/served.py for the ports other modules use
RTP_PORT_RANGE = "28000-28999"


@pytest.fixture(scope="module")
async def media_app(
    netns: Netns, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    """The real app with its managed Janus, on a migrated SQLite file."""
    data: Path = tmp_path_factory.mktemp("leftovers")
    url = f"sqlite+aiosqlite:///{data / 'mitalk.db'}"
    db = Database(url)
    await upgrade(db)
    await db.dispose()
    settings = Settings(
        data_dir=data,
        database_url=url,
        secret_key="leftovers-key",
        redis_url=None,
        run_workers=False,
        media="managed",
        janus_api_port=JANUS_API_PORT,
        janus_rtp_port_range=RTP_PORT_RANGE,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        media: MediaCoordinator = app.state.media
        await until(media.reconciled.is_set, what="the managed Janus to be ready")
        yield app


@pytest.fixture
async def client(media_app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=media_app, client=("203.0.113.9", 40000))
    async with AsyncClient(transport=transport, base_url="http://mitalk.test") as http:
        yield http


async def test_hanging_up_in_made_up_rooms_leaves_no_lock_behind(
    media_app: FastAPI, client: AsyncClient
) -> None:
    media: MediaCoordinator = media_app.state.media
    host, listener = await make_members(media_app.state.db, 2)
    room_id = (await open_room(client, host))["id"]
    await ok(client, listener, "POST", f"/rooms/{room_id}/join")
    await ok(client, listener, "POST", f"/rooms/{room_id}/media/listen")
    # 500 room ids nobody ever made, long ones: each used to leave a lock for good
    for _ in range(500):
        made_up = secrets.token_hex(100)
        response = await call(client, listener, "DELETE", f"/rooms/{made_up}/media")
        assert response.status_code == 204, response.text
    assert (len(media._seat_locks), len(media._room_locks)) == (0, 0)
    # and a real seat is still dropped by the same call, which keeps nothing either
    assert (room_id, listener.id) in media.seats
    await ok(client, listener, "DELETE", f"/rooms/{room_id}/media")
    assert (room_id, listener.id) not in media.seats
    assert (len(media._seat_locks), len(media._room_locks)) == (0, 0)


async def test_a_listeners_offer_does_not_name_the_stage(
    media_app: FastAPI, client: AsyncClient
) -> None:
    media: MediaCoordinator = media_app.state.media
    host, listener = await make_members(media_app.state.db, 2)
    room_id = (await open_room(client, host))["id"]
    await ok(client, listener, "POST", f"/rooms/{room_id}/join")
    offer = (await ok(client, listener, "POST", f"/rooms/{room_id}/media/listen"))["offer"]
    sdp = offer["sdp"]
    assert offer["type"] == "offer" and "m=audio" in sdp
    assert str(media.stage_id(room_id)) not in sdp, sdp
    assert "mitalk" not in sdp.lower(), sdp
    assert "\r\ns=-\r\n" in sdp


async def test_a_speakers_answer_does_not_name_the_stage(
    media_app: FastAPI, client: AsyncClient
) -> None:
    media: MediaCoordinator = media_app.state.media
    (host,) = await make_members(media_app.state.db, 1)
    room_id = (await open_room(client, host))["id"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        answer = (await ok(client, host, "POST", f"/rooms/{room_id}/media/offer", offer))["answer"]
    finally:
        await pc.close()
    sdp = answer["sdp"]
    assert answer["type"] == "answer" and "m=audio" in sdp
    assert str(media.stage_id(room_id)) not in sdp, sdp  # Janus wrote "s=AudioBridge <id>"
    assert "\r\ns=-\r\n" in sdp


async def test_keyed_locks_exclude_and_then_forget() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    inside: list[str] = []
    order: list[str] = []

    async def work(name: str) -> None:
        async with locks.hold("room"):
            inside.append(name)
            assert inside == [name], "two holders at once"
            await asyncio.sleep(0.01)
            order.append(name)
            inside.remove(name)

    await asyncio.gather(*(work(f"w{n}") for n in range(5)))
    assert sorted(order) == [f"w{n}" for n in range(5)]
    assert len(locks) == 0
    with pytest.raises(RuntimeError):
        async with locks.hold("failing"):
            raise RuntimeError("boom")
    assert len(locks) == 0
