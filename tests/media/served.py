"""A real `mitalk serve` with its managed Janus inside the test namespace, and people using it.

The server is a child of the test process's main thread, which the netns fixture moved into
the namespace: the server, its Janus and the bots (aiortc in the test's event loop) all talk
over the namespace's own addresses only.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from factories import new_phone
from mitalk.media.audio import Pcm, dominant_frequency, sounding_fraction
from mitalk.media.bots import PcmSourceTrack
from mitalk.media.coordinator import stage_id_of
from mitalk.media.janus_client import JanusClient
from mitalk.media.roombot import RATE, RoomBot
from mitalk.media.stage import StageManager

SECRET_KEY = "live-test-key"  # what tests/live.py gives every server
JANUS_API_PORT = (
    8388  # the package's own Janus uses 8188, test_supervisor's 8288, test_serve_defaults' 8488
)
RTP_PORT_RANGE = "22000-22999"


@dataclass
class Person:
    """A signed-in account on the live server."""

    id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Served:
    """The live server: its URL and data dir, and a view into its Janus (as an operator has)."""

    base: str
    data_dir: Path

    @property
    def outbox(self) -> Path:
        return self.data_dir / "sms-outbox.jsonl"

    @property
    def janus_pid(self) -> int:
        return int((self.data_dir / "janus" / "janus.pid").read_text().strip())

    def stage_id(self, room_id: str) -> int:
        return stage_id_of(SECRET_KEY.encode(), room_id)

    @asynccontextmanager
    async def janus(self) -> AsyncIterator[StageManager]:
        """A stage manager on the server's Janus, with the secrets from its generated config."""
        folder = self.data_dir / "janus"

        def setting(file: str, key: str) -> str:
            match = re.search(rf'{key} = "([^"]+)"', (folder / file).read_text())
            assert match, (file, key)
            return match.group(1)

        client = JanusClient(
            f"http://127.0.0.1:{JANUS_API_PORT}/janus", setting("janus.jcfg", "api_secret")
        )
        stages = StageManager(
            client,
            audiobridge_admin_key=setting("janus.plugin.audiobridge.jcfg", "admin_key"),
            streaming_admin_key=setting("janus.plugin.streaming.jcfg", "admin_key"),
            secret_key=SECRET_KEY.encode(),
        )
        try:
            yield stages
        finally:
            await stages.close()
            await client.aclose()

    async def person(self) -> Person:
        """Sign a new member in, reading the code from the console SMS outbox."""
        phone = new_phone()
        async with httpx.AsyncClient(
            base_url=self.base, trust_env=False, timeout=20, verify=ssl.create_default_context()
        ) as http:
            sent = await http.post("/api/v1/auth/code", json={"phone": phone})
            assert sent.status_code == 202, sent.text
            code = None
            for line in reversed(self.outbox.read_text().splitlines()):
                message = json.loads(line)
                if message["to"] == phone:
                    code = re.search(r"\b(\d{6})\b", message["body"]).group(1)  # type: ignore[union-attr]
                    break
            verified = await http.post("/api/v1/auth/verify", json={"phone": phone, "code": code})
            assert verified.status_code == 200, verified.text
            body = verified.json()
            assert body["account"]["status"] == "active", body
            # A name, as onboarding asks: raising a hand and speaking need one.
            named = await http.patch(
                "/api/v1/me/profile",
                json={"name": f"Person {phone[-4:]}"},
                headers={"Authorization": f"Bearer {body['token']}"},
            )
            assert named.status_code == 200, named.text
        return Person(id=body["account"]["id"], token=body["token"])

    async def call(self, who: Person, method: str, path: str, body: Any = None) -> httpx.Response:
        """One API call as ``who``."""
        async with httpx.AsyncClient(
            base_url=self.base, trust_env=False, timeout=20, verify=ssl.create_default_context()
        ) as http:
            return await http.request(method, f"/api/v1{path}", json=body, headers=who.headers)

    async def open_room(self, host: Person) -> str:
        response = await self.call(host, "POST", "/rooms", {"title": "Audio test"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def bot(
        self, who: Person, room_id: str, tone_hz: float | None = None, **options: Any
    ) -> RoomBot:
        """A bot for ``who`` in the room, sending a steady tone if given one."""
        source = (lambda: PcmSourceTrack.from_tone(tone_hz)) if tone_hz else None
        return RoomBot(self.base, who.token, room_id, source=source, **options)


# How long to wait for something that should happen (bounded, generous for a loaded machine).
WAIT = 10.0


async def until(predicate: Any, timeout: float = WAIT, what: str = "condition") -> None:
    """Poll ``predicate()`` (sync or async) until true, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def hears_tone(bot: RoomBot, hz: float, timeout: float = WAIT) -> float:
    """Wait until ``bot`` hears a steady ``hz`` tone; return when it first sounded."""
    started = time.monotonic()

    def tone_now() -> bool:
        since = bot.timeline.first_sound(started)
        if since is None:
            return False
        recent = bot.timeline.samples(time.monotonic() - 0.6)
        return len(recent) > RATE // 4 and is_tone(recent, hz)

    await until(tone_now, timeout, f"a {hz} Hz tone")
    first = bot.timeline.first_sound(started)
    assert first is not None
    return first


def is_tone(samples: Pcm, hz: float) -> bool:
    return (
        sounding_fraction(samples, RATE) > 0.8 and abs(dominant_frequency(samples, RATE) - hz) < 5
    )


async def heard_next(bot: RoomBot, seconds: float) -> Pcm:
    """What ``bot`` receives during the next ``seconds`` (it must be receiving frames)."""
    start = time.monotonic()
    await asyncio.sleep(seconds)
    samples = bot.timeline.samples(start)
    # Frames must be flowing, or "silence" would prove nothing.
    assert len(samples) > RATE * seconds * 0.5, f"only {len(samples)} samples in {seconds}s"
    return samples


def silent(samples: Pcm) -> bool:
    return sounding_fraction(samples, RATE) < 0.05
