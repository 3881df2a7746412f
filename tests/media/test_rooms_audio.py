"""Rooms carry real audio through `mitalk serve` and its managed Janus, roles enforced by media.

Bots use only the public API (REST, the room WebSocket, WebRTC), as `mitalk bot` does; what
they record is checked for the tone each sender plays.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import os
import signal
import time
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from live import MITALK, live_server, mitalk_env, run_cli
from mitalk.media.audio import dominant_frequency, read_wav, sounding_fraction, tone, write_wav
from mitalk.media.coordinator import ACTIVE_SPEAKER_MIN_INTERVAL

from .conftest import Netns
from .served import (
    JANUS_API_PORT,
    RTP_PORT_RANGE,
    WAIT,
    Person,
    Served,
    heard_next,
    hears_tone,
    is_tone,
    silent,
    until,
)

HOST_HZ, GUEST_HZ = 440.0, 880.0


@pytest.fixture(scope="module")
def served(netns: Netns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `mitalk serve` (managed Janus, the embedded default) for this module's tests."""
    data = tmp_path_factory.mktemp("served") / "data"
    assert run_cli(data, "admin", "phase", "open").returncode == 0
    extra = {
        "MITALK_MEDIA": "managed",
        "MITALK_JANUS_API_PORT": str(JANUS_API_PORT),
        "MITALK_JANUS_RTP_PORT_RANGE": RTP_PORT_RANGE,
        # Every person of this module signs in from the test's one address; the per-address
        # limits (tested in tests/accounts) would stop the module's later tests.
        "MITALK_CODES_PER_ADDRESS_PER_HOUR": "1000",
        "MITALK_CODE_REQUESTS_PER_ADDRESS_PER_HOUR": "1000",
        "MITALK_VERIFIES_PER_ADDRESS_PER_HOUR": "1000",
    }
    with live_server(data, **extra) as base:
        yield Served(base, data)


async def test_speaker_is_heard_and_an_ended_room_leaves_nothing_in_janus(served: Served) -> None:
    host, guest = await served.person(), await served.person()
    room_id = await served.open_room(host)
    stage_id = served.stage_id(room_id)
    async with served.janus() as janus:
        await until(lambda: _has_stage(janus, stage_id), what="the room's stage")

    speaker = served.bot(host, room_id, HOST_HZ, unmute_on_stage=True)
    listener = served.bot(guest, room_id)
    try:
        await speaker.start()
        joining = time.monotonic()
        await listener.start()
        assert (speaker.role, listener.role) == ("moderator", "listener")
        await hears_tone(listener, HOST_HZ)
        print(
            "listener join request -> first audio: "
            f"{listener.timeline.first_sound(joining) - joining:.3f}s"
        )  # type: ignore[operator]
        assert is_tone(await heard_next(listener, 1.0), HOST_HZ)

        ended = await served.call(host, "POST", f"/rooms/{room_id}/end")
        assert ended.status_code == 204, ended.text
        await until(lambda: listener.gone.is_set() and speaker.gone.is_set(), what="room.ended")
    finally:
        await speaker.close()
        await listener.close()
    async with served.janus() as janus:
        await until(lambda: _no_stage(janus, stage_id), what="the stage to be destroyed")
        assert stage_id not in await janus.list_rooms()
        assert stage_id not in await janus.list_mountpoints()


async def test_listener_is_never_heard_until_brought_on_stage(served: Served) -> None:
    host, guest, audience = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    # The host only listens to the stage's mix; the guest tries to send as a listener.
    moderator = served.bot(host, room_id)
    cheat = served.bot(guest, room_id, GUEST_HZ, send_as_listener=True, unmute_on_stage=True)
    witness = served.bot(audience, room_id)
    try:
        for bot in (moderator, cheat, witness):
            await bot.start()
        await cheat.connected()
        assert cheat.role == "listener"

        # No seat on stage for a listener, whatever its client asks for.
        refused = await served.call(
            guest, "POST", f"/rooms/{room_id}/media/offer", {"type": "offer", "sdp": "v=0"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "listeners_cannot_speak"
        refused = await served.call(guest, "POST", f"/rooms/{room_id}/unmute")
        assert refused.json()["error"]["code"] == "listeners_cannot_unmute"

        # Its answer claimed to send and carries a live tone track: nobody hears it.
        assert silent(await heard_next(witness, 1.5))
        assert silent(await heard_next(moderator, 0.5))

        # Brought on stage, the same client moves to the AudioBridge room (following
        # room.role_changed), unmutes itself, and is heard within 2 s.
        asked = time.monotonic()
        brought = await served.call(
            host, "POST", f"/rooms/{room_id}/speakers", {"user_id": guest.id}
        )
        assert brought.status_code == 200, brought.text
        first = await hears_tone(witness, GUEST_HZ)
        print(f"brought on stage -> heard by the audience: {first - asked:.3f}s")
        assert first - asked < 2.0, f"heard {first - asked:.2f}s after being brought on stage"
        await hears_tone(moderator, GUEST_HZ)
    finally:
        for bot in (moderator, cheat, witness):
            await bot.close()


async def test_muted_speaker_stays_silent_whatever_its_client_asks(served: Served) -> None:
    host, guest, audience = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    moderator = served.bot(host, room_id)
    speaker = served.bot(guest, room_id, GUEST_HZ, unmute_on_stage=True)
    witness = served.bot(audience, room_id)
    try:
        for bot in (moderator, speaker, witness):
            await bot.start()
        brought = await served.call(
            host, "POST", f"/rooms/{room_id}/speakers", {"user_id": guest.id}
        )
        assert brought.status_code == 200
        await hears_tone(witness, GUEST_HZ)

        muted = await served.call(host, "POST", f"/rooms/{room_id}/mute", {"user_id": guest.id})
        assert muted.status_code == 200 and muted.json()["muted"] is True
        await asyncio.sleep(0.5)  # let the mix drain
        assert silent(await heard_next(witness, 1.0))

        # Every media path its client has: a fresh offer (the server joins it muted) ...
        await speaker.connect_media()
        assert speaker.muted is True
        await speaker.connected()
        # ... an offer that asks to be unmuted (nothing but SDP is accepted) ...
        sneaky = await served.call(
            guest,
            "POST",
            f"/rooms/{room_id}/media/offer",
            {"type": "offer", "sdp": speaker.pc.localDescription.sdp, "muted": False},  # type: ignore[union-attr]
        )
        assert sneaky.status_code == 422
        # ... and the audience path, which never sends.
        listened = await served.call(guest, "POST", f"/rooms/{room_id}/media/listen")
        assert listened.status_code == 200
        await speaker.connect_media()  # back on stage, muted again
        await speaker.connected()
        assert silent(await heard_next(witness, 1.5))
        assert silent(await heard_next(moderator, 0.5))
    finally:
        for bot in (moderator, speaker, witness):
            await bot.close()


async def test_speaker_moved_back_to_the_audience_is_not_heard_and_hears_the_stage(
    served: Served,
) -> None:
    host, guest = await served.person(), await served.person()
    room_id = await served.open_room(host)
    # The host was live from creating the room, but joining it (as every client does) mutes.
    moderator = served.bot(host, room_id, HOST_HZ, unmute_on_stage=True)
    guest_bot = served.bot(guest, room_id, GUEST_HZ, unmute_on_stage=True)
    try:
        await moderator.start()
        await guest_bot.start()
        await served.call(host, "POST", f"/rooms/{room_id}/speakers", {"user_id": guest.id})
        await hears_tone(moderator, GUEST_HZ)
        await hears_tone(guest_bot, HOST_HZ)  # the stage's mix, without its own voice

        moved = await served.call(host, "DELETE", f"/rooms/{room_id}/speakers/{guest.id}")
        assert moved.status_code == 200 and moved.json()["role"] == "listener"
        async with served.janus() as janus:
            stage_id = served.stage_id(room_id)
            await until(lambda: _participant_count(janus, stage_id, 1), what="the seat kicked")
        await until(lambda: guest_bot.connections >= 3, what="the guest to listen again")
        await guest_bot.connected()
        await hears_tone(guest_bot, HOST_HZ)  # now from the mountpoint
        await asyncio.sleep(0.3)
        assert silent(await heard_next(moderator, 1.0))
    finally:
        await moderator.close()
        await guest_bot.close()


async def test_removed_person_cannot_rejoin_by_api_or_media(served: Served) -> None:
    host, guest, audience = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    moderator = served.bot(host, room_id)
    speaker = served.bot(guest, room_id, GUEST_HZ, unmute_on_stage=True)
    witness = served.bot(audience, room_id)
    try:
        for bot in (moderator, speaker, witness):
            await bot.start()
        await served.call(host, "POST", f"/rooms/{room_id}/speakers", {"user_id": guest.id})
        await hears_tone(witness, GUEST_HZ)

        removed = await served.call(host, "POST", f"/rooms/{room_id}/remove", {"user_id": guest.id})
        assert removed.status_code == 204
        await until(speaker.gone.is_set, what="room.removed")
        await asyncio.sleep(0.5)
        # The removed client keeps its connection open and its tone playing: not heard.
        assert silent(await heard_next(witness, 1.0))
        async with served.janus() as janus:
            stage_id = served.stage_id(room_id)
            await until(
                lambda: _participant_count(janus, stage_id, 1), what="only the host on stage"
            )

        for method, path, body in (
            ("POST", "/join", None),
            ("POST", "/media/offer", {"type": "offer", "sdp": "v=0"}),
            ("POST", "/media/listen", None),
            ("POST", "/media/answer", {"type": "answer", "sdp": "v=0"}),
        ):
            response = await served.call(guest, method, f"/rooms/{room_id}{path}", body)
            assert response.status_code == 403, (path, response.text)
            assert response.json()["error"]["code"] == "removed_from_room"
    finally:
        for bot in (moderator, speaker, witness):
            await bot.close(leave=bot is not speaker)


class _SpeakerEvents:
    """The ``room.active_speaker`` events one person's room WebSocket receives."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self._new = asyncio.Queue[dict[str, Any]]()

    def add(self, event: dict[str, Any]) -> None:
        self.seen.append(event)
        self._new.put_nowait(event)

    async def next(self, user_id: str | None, timeout: float = 15.0) -> dict[str, Any]:
        """Wait for an event naming ``user_id`` (None: nobody talks), skipping others."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self._new.get()
                if event["user_id"] == user_id:
                    return event


@asynccontextmanager
async def _active_speakers(
    served: Served, who: Person, room_id: str
) -> AsyncIterator[_SpeakerEvents]:
    url = served.base.replace("http", "ws", 1) + f"/api/v1/rooms/{room_id}/ws"
    events = _SpeakerEvents()
    async with websockets.connect(url, additional_headers=who.headers, open_timeout=20) as ws:

        async def read() -> None:
            async for raw in ws:
                message = json.loads(raw)
                if message.get("type") == "room.active_speaker":
                    assert message["seq"] is None
                    events.add(message)

        reader = asyncio.create_task(read())
        try:
            yield events
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await reader


async def test_active_speaker_names_who_talks_and_follows_mute_unmute_and_hang_up(
    served: Served,
) -> None:
    host, guest, audience = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    moderator = served.bot(host, room_id)  # on stage, sends nothing
    speaker = served.bot(guest, room_id, GUEST_HZ, unmute_on_stage=True)
    try:
        await moderator.start()
        await speaker.start()
        joined = await served.call(audience, "POST", f"/rooms/{room_id}/join")
        assert joined.status_code == 200, joined.text
        async with _active_speakers(served, audience, room_id) as events:
            brought = await served.call(
                host, "POST", f"/rooms/{room_id}/speakers", {"user_id": guest.id}
            )
            assert brought.status_code == 200, brought.text
            await hears_tone(moderator, GUEST_HZ)
            # A sustained tone makes the guest the active speaker ...
            await events.next(guest.id)
            # ... and someone who arrives while they talk is told so right after the snapshot.
            late = await served.person()
            assert (await served.call(late, "POST", f"/rooms/{room_id}/join")).status_code == 200
            async with _active_speakers(served, late, room_id) as arrivals:
                assert (await arrivals.next(guest.id, timeout=5.0))["user_id"] == guest.id
            # ... a moderator's mute stops it at once (whatever the client keeps sending) ...
            muted = await served.call(host, "POST", f"/rooms/{room_id}/mute", {"user_id": guest.id})
            assert muted.status_code == 200, muted.text
            await events.next(None)
            # ... unmuted, the tone (still playing) makes it the active speaker again ...
            unmuted = await served.call(guest, "POST", f"/rooms/{room_id}/unmute")
            assert unmuted.status_code == 200, unmuted.text
            await events.next(guest.id)
            # ... and hanging up (no more audio from it) ends it.
            hung_up = await served.call(guest, "DELETE", f"/rooms/{room_id}/media")
            assert hung_up.status_code == 204, hung_up.text
            await events.next(None)

        # Nobody else was ever named, and the room never sent more than one event per interval.
        assert {e["user_id"] for e in events.seen} <= {guest.id, None}
        times = [dt.datetime.fromisoformat(e["at"]) for e in events.seen]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
        assert all(gap >= ACTIVE_SPEAKER_MIN_INTERVAL - 0.05 for gap in gaps), gaps
        assert len(events.seen) <= 8, events.seen
    finally:
        await moderator.close()
        await speaker.close()


async def test_bot_commands_speak_and_listen_through_the_server(
    served: Served, tmp_path: Path
) -> None:
    host, guest = await served.person(), await served.person()
    room_id = await served.open_room(host)
    tone_file, recording = tmp_path / "tone.wav", tmp_path / "heard.wav"
    write_wav(tone_file, tone(HOST_HZ, 0.5), 48000)  # shorter than the run: it loops
    common = ["--server", served.base, "--room", room_id]
    speak = await asyncio.create_subprocess_exec(
        *MITALK, "bot", "speak", *common, "--token", host.token,
        "--wav", str(tone_file), "--seconds", "8",
        env=mitalk_env(served.data_dir), stdout=PIPE, stderr=PIPE,
    )  # fmt: skip
    listen = await asyncio.create_subprocess_exec(
        *MITALK, "bot", "listen", *common, "--token", guest.token,
        "--seconds", "4", "--out", str(recording),
        env=mitalk_env(served.data_dir), stdout=PIPE, stderr=PIPE,
    )  # fmt: skip
    listened = await asyncio.wait_for(listen.communicate(), 60)
    spoken = await asyncio.wait_for(speak.communicate(), 60)
    assert listen.returncode == 0, listened
    assert speak.returncode == 0, spoken
    samples, rate = read_wav(recording)
    assert len(samples) > rate  # at least a second of what it heard
    assert sounding_fraction(samples, rate) > 0.3
    assert abs(dominant_frequency(samples, rate) - HOST_HZ) < 5
    # Both left at the end.
    room = (await served.call(host, "GET", f"/rooms/{room_id}")).json()
    assert room["participants"] == []


async def test_health_reports_an_unreachable_media_engine(served: Served) -> None:
    async with httpx.AsyncClient(trust_env=False, timeout=20) as http:
        healthy = await http.get(f"{served.base}/healthz")
        assert healthy.status_code == 200 and healthy.json()["checks"]["media"] == "ok"
        pid = served.janus_pid
        os.kill(pid, signal.SIGSTOP)  # hung, not dead: the supervisor only kills it after ~15 s
        try:
            down = await http.get(f"{served.base}/healthz")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert down.status_code == 503
        assert down.json()["checks"]["media"].startswith("unreachable")
        assert "media" in down.json()["error"]["message"]
        await until(
            lambda: _healthy(http, served.base), what="/healthz to answer 200 again"
        )


async def test_killed_janus_brings_audio_back_without_user_action(served: Served) -> None:
    host, guest = await served.person(), await served.person()
    room_id = await served.open_room(host)
    speaker = served.bot(host, room_id, HOST_HZ, unmute_on_stage=True)
    listener = served.bot(guest, room_id)
    try:
        await speaker.start()
        await listener.start()
        await hears_tone(listener, HOST_HZ)
        connections = listener.connections

        killed_at = time.monotonic()
        os.kill(served.janus_pid, signal.SIGKILL)
        # Both bots get room.media_reconnect once the new Janus has the room's stage again.
        await until(lambda: listener.connections > connections, WAIT, "the listener to reconnect")
        back = await hears_tone(listener, HOST_HZ, timeout=WAIT)
        print(f"janus killed -> audio back: {back - killed_at:.3f}s")
        assert back - killed_at < 5.0, f"audio back {back - killed_at:.2f}s after the kill"
        assert speaker.connections >= 2
    finally:
        await speaker.close()
        await listener.close()


async def _has_stage(janus: object, stage_id: int) -> bool:
    from mitalk.media.stage import StageManager

    assert isinstance(janus, StageManager)
    return stage_id in await janus.list_rooms() and stage_id in await janus.list_mountpoints()


async def _no_stage(janus: object, stage_id: int) -> bool:
    from mitalk.media.stage import StageManager

    assert isinstance(janus, StageManager)
    return (
        stage_id not in await janus.list_rooms() and stage_id not in await janus.list_mountpoints()
    )


async def _participant_count(janus: object, stage_id: int, count: int) -> bool:
    from mitalk.media.stage import StageManager

    assert isinstance(janus, StageManager)
    return len(await janus.participants(stage_id)) == count


async def _healthy(http: httpx.AsyncClient, base: str) -> bool:
    return (await http.get(f"{base}/healthz")).status_code == 200


async def test_a_scheduled_room_gets_its_stage_and_carries_audio_once_started(
    served: Served,
) -> None:
    host, guest = await served.person(), await served.person()
    starts_at = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    made = await served.call(
        host, "POST", "/rooms", {"title": "Scheduled audio", "starts_at": starts_at}
    )
    assert made.status_code == 201 and made.json()["status"] == "scheduled", made.text
    room_id = str(made.json()["id"])
    stage_id = served.stage_id(room_id)
    await asyncio.sleep(0.5)
    async with served.janus() as janus:
        assert stage_id not in await janus.list_rooms()  # no stage while it waits
    started = await served.call(host, "POST", f"/rooms/{room_id}/start")
    assert started.status_code == 200 and started.json()["status"] == "live", started.text
    async with served.janus() as janus:
        await until(lambda: _has_stage(janus, stage_id), what="the started room's stage")

    speaker = served.bot(host, room_id, HOST_HZ, unmute_on_stage=True)
    listener = served.bot(guest, room_id)
    try:
        await speaker.start()
        await listener.start()
        assert (speaker.role, listener.role) == ("moderator", "listener")
        await hears_tone(listener, HOST_HZ)
    finally:
        await speaker.close()
        await listener.close()
