"""The generated Janus configuration is locked down, checked against the running Janus."""

from __future__ import annotations

import itertools
import re
import stat
from pathlib import Path

import httpx
import pytest

from mitalk.media.janus_client import JanusClient, JanusError, JanusPluginError
from mitalk.media.janus_config import (
    JanusConfig,
    pick_media_interface,
    render_jcfg,
    split_port_range,
)
from mitalk.media.stage import AUDIOBRIDGE, STREAMING
from mitalk.media.supervisor import JanusSupervisor

from .conftest import Netns
from .factories import janus_sockets


async def test_api_listens_on_loopback_only(janus: JanusSupervisor, netns: Netns) -> None:
    assert janus.pid is not None
    port = janus.config.api_url.split(":")[2].split("/")[0]
    # Only the HTTP API: no WebSocket, admin, nanomsg or other listener, and not on 0.0.0.0.
    assert janus_sockets(janus.pid, "-t") == [f"127.0.0.1:{port}"]
    async with httpx.AsyncClient(trust_env=False) as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(f"http://{netns.media_address}:{port}/janus", json={})


async def test_requests_without_the_api_secret_are_refused(janus: JanusSupervisor) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        reply = await http.post(janus.config.api_url, json={"janus": "create", "transaction": "x"})
    assert reply.json()["error"]["code"] == 403

    async with JanusClient(janus.config.api_url, "wrong-secret") as client:
        with pytest.raises(JanusError) as refused:
            await client.create_session()
    assert refused.value.code == 403


async def test_only_audiobridge_streaming_and_http_are_loaded(janus_client: JanusClient) -> None:
    info = await janus_client.info()
    assert set(info["plugins"]) == {AUDIOBRIDGE, STREAMING}
    assert set(info["transports"]) == {"janus.transport.http"}
    assert info["events"] == {} and info["loggers"] == {}
    assert info["api_secret"] is True


async def test_media_is_offered_on_the_media_interface_only(
    janus_client: JanusClient, janus_config: JanusConfig, netns: Netns
) -> None:
    info = await janus_client.info()
    assert janus_config.media_interface == netns.media_interface  # Picked by default route.
    assert info["local-ip"] == netns.media_address
    assert info["mdns-enabled"] is False
    jcfg = (janus_config.folder / "janus.jcfg").read_text()
    assert "stun_server" not in jcfg
    assert re.search(r"broadcast = false", jcfg)


async def test_plugins_demand_their_admin_keys(janus_client: JanusClient) -> None:
    session = await janus_client.create_session()
    try:
        bridge = await session.attach(AUDIOBRIDGE)
        with pytest.raises(JanusPluginError):
            await bridge.request({"request": "create", "room": 999, "secret": "s"})
        streaming = await session.attach(STREAMING)
        with pytest.raises(JanusPluginError):
            await streaming.request({"request": "create", "type": "rtp", "id": 999, "media": []})
        # No sample rooms or mountpoints from the stock configuration.
        assert (await bridge.request({"request": "list"}))["list"] == []
        assert (await streaming.request({"request": "list"}))["list"] == []
    finally:
        await session.destroy()


def test_media_threads_are_a_shared_pool(janus_config: JanusConfig) -> None:
    # event_loops = 2: two media threads for every handle, not one thread per listener.
    jcfg = (janus_config.folder / "janus.jcfg").read_text()
    assert re.search(r"^\tevent_loops = 2$", jcfg, re.MULTILINE)


def test_config_files_are_private(janus_config: JanusConfig) -> None:
    assert stat.S_IMODE(janus_config.folder.stat().st_mode) == 0o700
    for path in janus_config.folder.glob("*.jcfg"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert janus_config.api_secret not in path.read_text() or path.name == "janus.jcfg"


def test_port_ranges_are_disjoint() -> None:
    ranges = split_port_range("20000-40000")
    spans = sorted([ranges.core, ranges.streaming, ranges.audiobridge])
    assert spans[0][0] == 20000 and spans[-1][1] == 40000
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start == end + 1
    with pytest.raises(ValueError):
        split_port_range("20000-20010")


def test_media_interface_setting_wins_then_default_route(netns: Netns) -> None:
    assert pick_media_interface("eth7") == "eth7"
    assert pick_media_interface(None) == netns.media_interface


def test_render_jcfg_escapes_strings(tmp_path: Path) -> None:
    text = render_jcfg({"general": {"name": 'a "b" \\c', "on": True, "n": 3}})
    assert text == 'general: {\n\tname = "a \\"b\\" \\\\c"\n\ton = true\n\tn = 3\n}\n'
