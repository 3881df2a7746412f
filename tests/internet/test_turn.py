"""Audio across the test internet: NAT, an office that passes only TCP 443, a server behind 1:1 NAT.

Each scenario runs a real `mitalk serve` (managed Janus, managed coturn) on a server host of
tests/netlab.py and bots on client hosts that reach it only through the routers, NATs and
firewalls of that network, over the server's public API (REST, room WebSocket, WebRTC), as
`mitalk bot` does. Every server is on https (its managed Caddy; on port 443 of its first
address where the office must reach it: the office passes nothing else) and TURN over TLS
listens on its second address, port 443, all with a certificate of a CA made for the run, which
the clients trust through SSL_CERT_FILE (nothing ignores certificate errors). The public server
is reached at its address (https://203.0.113.10), the cloud server at its name
(https://cloud.mitalk.test, tests/netlab.py): behind 1:1 NAT only the name (SNI) tells its
Caddy which certificate to present, since the address it was reached at is a private one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aioice import stun
from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCConfiguration

import netlab
from live import MITALK, mitalk_env
from media.served import heard_next, hears_tone, is_tone, silent
from mitalk.media.audio import read_wav
from mitalk.media.roombot import TurnTransport
from mitalk.media.turn import credential

from .conftest import CertAuthority, Site, serve_on

SPEAKER_HZ, CHEAT_HZ = 440.0, 880.0
API_PORT = 8000  # on the server's loopback behind Caddy (the office passes only TCP 443)


def _https_settings(
    host: netlab.Host, ca: CertAuthority, public_url: str, **extra: str
) -> dict[str, str]:
    """HTTPS at ``public_url``: the managed Caddy on the host's first address, the run's CA's
    certificate (it names the servers' names and public addresses)."""
    return {
        "MITALK_PUBLIC_URL": public_url,
        "MITALK_HTTPS_ADDRESS": host.address,
        "MITALK_TLS_CERT": str(ca.cert_file),
        "MITALK_TLS_KEY": str(ca.key_file),
        **extra,
    }


def _turn_settings(
    host: netlab.Host, ca: CertAuthority, public_url: str, **extra: str
) -> dict[str, str]:
    """HTTPS on the host's first address, port 443 (``_https_settings``); managed TURN on its
    second address, TLS on port 443 there. Both with the run's CA's certificate."""
    assert host.second_address and host.second_public
    return {
        **_https_settings(host, ca, public_url),
        "MITALK_TURN": "managed",
        "MITALK_TURN_LISTEN": host.second_address,
        "MITALK_TURN_HOST": host.second_public,
        "MITALK_TURN_TLS_PORT": "443",
        "MITALK_TURN_TLS_CERT": str(ca.cert_file),
        "MITALK_TURN_TLS_KEY": str(ca.key_file),
        "MITALK_TURN_SECRET": "internet-test-turn-secret",
        **extra,
    }


@pytest.fixture(scope="module")
def public_site(
    net: netlab.Internet, trust_test_ca: CertAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """Mi Talk on the public server, with managed TURN."""
    data = tmp_path_factory.mktemp("public") / "data"
    settings = _turn_settings(net.server, trust_test_ca, f"https://{net.server.public}")
    with serve_on(net.server, data, API_PORT, **settings) as site:
        yield site


async def _stage_and_audience(
    site: Site, *, relay: bool = False, turn: TurnTransport | None = None
) -> dict[str, Any]:
    """A moderator speaks, a listener hears it, a listener that sends anyway is heard by nobody.

    Runs on a client host (``Host.run``); returns what each bot's connection went through.
    """
    served = site.served
    host, guest, cheater = await served.person(), await served.person(), await served.person()
    room_id = await served.open_room(host)
    options: dict[str, Any] = {"relay": relay, "turn": turn}
    speaker = served.bot(host, room_id, SPEAKER_HZ, unmute_on_stage=True, **options)
    listener = served.bot(guest, room_id, **options)
    cheat = served.bot(cheater, room_id, CHEAT_HZ, send_as_listener=True, **options)
    bots = (speaker, listener, cheat)
    try:
        for bot in bots:
            await bot.start()
        assert (speaker.role, listener.role, cheat.role) == ("moderator", "listener", "listener")
        await hears_tone(listener, SPEAKER_HZ, timeout=15)
        assert is_tone(await heard_next(listener, 1.0), SPEAKER_HZ)
        await cheat.connected(timeout=15)
        # The stage's mix never carries a listener, whatever its client sends.
        assert silent(await heard_next(speaker, 1.5))
        return {
            "pairs": [bot.selected_pair() for bot in bots],
            "local_sdp": [bot.pc.localDescription.sdp if bot.pc else "" for bot in bots],
        }
    finally:
        for bot in bots:
            await bot.close()


async def test_from_home_behind_nat_the_listener_hears_the_speaker(
    net: netlab.Internet, public_site: Site
) -> None:
    seen = await net.home.run(lambda: _stage_and_audience(public_site))
    for pair in seen["pairs"]:
        assert pair is not None
        # A direct path to one of the server's public addresses, no relay behind a plain NAT.
        assert pair.local_type != "relay", pair
        assert pair.remote_address.split(":")[0] in (netlab.SERVER_IP, netlab.SERVER_SECOND_IP)


async def test_ice_servers_are_fresh_per_account_and_only_for_people_in_the_room(
    net: netlab.Internet, public_site: Site
) -> None:
    async def scenario() -> list[Any]:
        served = public_site.served
        host, outsider = await served.person(), await served.person()
        room_id = await served.open_room(host)
        path = f"/rooms/{room_id}/media/ice-servers"
        mine = await served.call(host, "GET", path)
        refused = await served.call(outsider, "GET", path)
        return [mine.status_code, mine.headers.get("cache-control"), mine.json(), host.id,
                refused.status_code, refused.json()]  # fmt: skip

    status, cache, body, host_id, refused_status, refused = await net.home.run(scenario)
    assert (status, cache) == (200, "no-store")
    [server] = body["ice_servers"]
    assert server["urls"] == [
        f"turn:{netlab.SERVER_SECOND_IP}:3478?transport=udp",
        f"turn:{netlab.SERVER_SECOND_IP}:3478?transport=tcp",
        f"turns:{netlab.SERVER_SECOND_IP}:443?transport=tcp",
    ]
    expiry, account = server["username"].split(":")
    assert account == host_id and 0 < int(expiry) - time.time() <= 600
    assert (
        server["credential"] == credential("internet-test-turn-secret", host_id, 0, int(expiry))[1]
    )
    assert (refused_status, refused["error"]["code"]) == (409, "not_in_room")


async def test_from_the_office_audio_flows_through_turn_over_tls_only(
    net: netlab.Internet, public_site: Site
) -> None:
    tried_udp = net.nft_counter("officegw", "office", "udp_dropped")
    seen = await net.office.run(lambda: _stage_and_audience(public_site, relay=True, turn="tls"))
    for pair, sdp in zip(seen["pairs"], seen["local_sdp"], strict=True):
        assert pair is not None and pair.local_type == "relay", pair
        candidates = re.findall(r"a=candidate:.* typ (\w+)", sdp)
        assert candidates and set(candidates) == {"relay"}, candidates  # --relay: nothing else
    # Relayed over TLS: the office let no UDP out for it (the counter only counts drops).
    assert net.nft_counter("officegw", "office", "udp_dropped") == tried_udp


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_from_home_audio_flows_through_turn_over_udp_and_over_tcp(
    net: netlab.Internet, public_site: Site, transport: TurnTransport
) -> None:
    """Relay only, and only the server's turn: URL of that transport (aiortc uses the one it is
    given): audio flows only if TURN over that transport works."""
    seen = await net.home.run(lambda: _stage_and_audience(public_site, relay=True, turn=transport))
    for pair in seen["pairs"]:
        assert pair is not None and pair.local_type == "relay", pair


async def test_mitalk_bot_listen_relay_from_the_office_records_the_speaker(
    net: netlab.Internet, public_site: Site, tmp_path: Path
) -> None:
    served = public_site.served
    out = tmp_path / "heard.wav"

    async def scenario() -> tuple[int, str]:
        host, guest = await served.person(), await served.person()
        room_id = await served.open_room(host)
        speaker = served.bot(
            host, room_id, SPEAKER_HZ, unmute_on_stage=True, relay=True, turn="tls"
        )
        try:
            await speaker.start()
            await speaker.connected(timeout=15)
            env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mitalk", "bot", "listen", "--server", served.base,
                "--token", guest.token, "--room", room_id, "--seconds", "6",
                "--out", str(out), "--relay", "--turn", "tls",
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
            return process.returncode or 0, (stdout + stderr).decode()
        finally:
            await speaker.close()

    returncode, output = await net.office.run(scenario)
    assert returncode == 0, output
    assert re.search(r"audio path: relay ", output), output
    samples, rate = read_wav(out)
    assert is_tone(samples[-2 * rate :], SPEAKER_HZ), output


async def test_behind_1_1_nat_public_ip_makes_audio_flow_and_relay_only_needs_turn(
    net: netlab.Internet, trust_test_ca: CertAuthority, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The cloud host told its public address (MITALK_PUBLIC_IP), no TURN: home talks directly.

    Over https at the cloud's name, on ports of its own (8443, 8080: the module's cloud_site
    may hold 443 and 80).
    """
    data = tmp_path_factory.mktemp("noturn") / "data"
    settings = _https_settings(
        net.cloud,
        trust_test_ca,
        f"https://{netlab.CLOUD_NAME}:8443",
        MITALK_HTTP_PORT="8080",
        MITALK_PUBLIC_IP=netlab.CLOUD_PUBLIC_IP,
        MITALK_JANUS_API_PORT="8388",
        MITALK_JANUS_RTP_PORT_RANGE="41000-41999",
    )
    with serve_on(net.cloud, data, 8002, **settings) as site:
        assert site.base.startswith("https://")
        seen = await net.home.run(lambda: _stage_and_audience(site))
        for pair in seen["pairs"]:
            assert pair is not None and pair.local_type != "relay", pair
            # Janus offered the public address it is reached at (nat_1_1_mapping).
            assert pair.remote_address.startswith(f"{netlab.CLOUD_PUBLIC_IP}:"), pair

        async def relay_only() -> str:
            person = await site.served.person()
            room_id = await site.served.open_room(person)
            bot = site.served.bot(person, room_id, relay=True)
            try:
                await bot.start()
            except Exception as exc:  # noqa: BLE001 - the refusal is what is checked
                return str(exc)
            finally:
                await bot.close()
            return "connected"

        # --relay allows nothing but TURN: without a TURN server it refuses to start.
        assert "no_relay" in await net.home.run(relay_only)


class CloudProbe:
    """What a TURN client on a client host gets from the cloud's coturn."""

    @staticmethod
    async def allocate(username: str, password: str) -> tuple[TurnClientUdpProtocol | None, int]:
        server = (netlab.CLOUD_SECOND_PUBLIC_IP, 3478)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                server, username=username, password=password, lifetime=600, channel_refresh_time=500
            ),
            remote_addr=server,
        )
        try:
            await protocol.connect()
        except stun.TransactionFailed as exc:
            transport.close()
            return None, int(exc.response.attributes["ERROR-CODE"][0])
        return protocol, 200

    @staticmethod
    async def allocate_tcp_relay(username: str, password: str) -> int:
        """Ask for a TCP relay (RFC 6062, over a TCP connection): what no browser needs."""
        server = (netlab.CLOUD_SECOND_PUBLIC_IP, 3478)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_connection(
            lambda: TurnClientTcpProtocol(
                server, username=username, password=password, lifetime=600, channel_refresh_time=500
            ),
            *server,
        )
        request = stun.Message(
            message_method=stun.Method.ALLOCATE, message_class=stun.Class.REQUEST
        )
        request.attributes["LIFETIME"] = 600
        request.attributes["REQUESTED-TRANSPORT"] = 6 << 24  # TCP
        try:
            await protocol.request_with_retry(request)
        except stun.TransactionFailed as exc:
            return int(exc.response.attributes["ERROR-CODE"][0])
        finally:
            transport.close()
        return 200

    @staticmethod
    async def permit(protocol: TurnClientUdpProtocol, peer: str) -> int:
        request = stun.Message(
            message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST
        )
        request.attributes["XOR-PEER-ADDRESS"] = (peer, 9)
        try:
            await protocol.request_with_retry(request)
        except stun.TransactionFailed as exc:
            return int(exc.response.attributes["ERROR-CODE"][0])
        return 200


@pytest.fixture(scope="module")
def cloud_site(
    net: netlab.Internet, trust_test_ca: CertAuthority, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """Mi Talk on the cloud host behind 1:1 NAT, told its public address, with managed TURN.

    At https://cloud.mitalk.test (its Caddy on port 443 of the private address the public one
    maps to), TURN over TLS on the second address's 443.
    """
    data = tmp_path_factory.mktemp("cloud") / "data"
    settings = _turn_settings(
        net.cloud,
        trust_test_ca,
        f"https://{netlab.CLOUD_NAME}",
        MITALK_PUBLIC_IP=netlab.CLOUD_PUBLIC_IP,
    )
    with serve_on(net.cloud, data, API_PORT, **settings) as site:
        assert site.base == f"https://{netlab.CLOUD_NAME}"
        yield site


async def test_turn_refuses_expired_credentials_and_private_peers_but_the_media_server(
    net: netlab.Internet, cloud_site: Site
) -> None:
    secret = "internet-test-turn-secret"

    async def probe() -> dict[str, int]:
        results: dict[str, int] = {}
        expired = credential(secret, "someone", ttl_seconds=-60, now=time.time())
        _, results["expired"] = await CloudProbe.allocate(*expired)
        wrong = credential("not-the-secret", "someone", 600, time.time())
        _, results["wrong_secret"] = await CloudProbe.allocate(*wrong)
        valid = credential(secret, "someone", 600, time.time())
        results["tcp_relay"] = await CloudProbe.allocate_tcp_relay(*valid)
        protocol, results["valid"] = await CloudProbe.allocate(*valid)
        assert protocol is not None
        try:
            for peer in (
                "127.0.0.1",  # the TURN host itself (Janus's API, Mi Talk's own ports)
                netlab.CLOUD_GATEWAY_IP,  # the provider's private network
                netlab.CLOUD_SECOND_PRIVATE_IP,  # another private address of the host
                "10.20.0.10",  # a private address elsewhere
                # The host's public addresses, which its provider maps back to it: the one
                # TURN is reached at leads to coturn's own listener (a relay loop) ...
                netlab.CLOUD_SECOND_PUBLIC_IP,
                netlab.CLOUD_PUBLIC_IP,  # ... MITALK_PUBLIC_IP leads to the media server
                netlab.CLOUD_PRIVATE_IP,  # the media server Mi Talk owns: allowed
                netlab.SERVER_IP,  # a public address: allowed
            ):
                results[peer] = await CloudProbe.permit(protocol, peer)
        finally:
            if protocol.refresh_task is not None:
                protocol.refresh_task.cancel()
            protocol.transport.close()
        return results

    results = await net.home.run(probe)
    assert results == {
        "expired": 401,
        "wrong_secret": 401,
        "tcp_relay": 442,  # no TCP relays: WebRTC relays UDP, even over TURN/TCP and TLS
        "valid": 200,
        "127.0.0.1": 403,
        netlab.CLOUD_SECOND_PUBLIC_IP: 403,
        netlab.CLOUD_PUBLIC_IP: 200,
        netlab.CLOUD_GATEWAY_IP: 403,
        netlab.CLOUD_SECOND_PRIVATE_IP: 403,
        "10.20.0.10": 403,
        netlab.CLOUD_PRIVATE_IP: 200,
        netlab.SERVER_IP: 200,
    }


async def test_turn_allocations_per_account_stop_at_the_quota(
    net: netlab.Internet, cloud_site: Site
) -> None:
    """MITALK_TURN_USER_QUOTA (12): each answer hands out a fresh credential (a new user name,
    ``<expiry>:<account>``), and the quota still counts the account's allocations together."""
    secret = "internet-test-turn-secret"

    async def probe() -> list[int]:
        now, codes, held = time.time(), [], []
        try:
            for n in range(14):
                username, password = credential(secret, "quota-account", 600 + n, now)
                protocol, code = await CloudProbe.allocate(username, password)
                codes.append(code)
                if protocol is not None:
                    held.append(protocol)
        finally:
            for protocol in held:
                await protocol.delete()
                protocol.transport.close()
        return codes

    codes = await net.home.run(probe)
    assert codes[:12] == [200] * 12, codes
    assert codes[12:] == [486, 486], codes  # Allocation Quota Reached


async def test_behind_1_1_nat_the_office_is_relayed_over_tls(
    net: netlab.Internet, cloud_site: Site
) -> None:
    seen = await net.office.run(lambda: _stage_and_audience(cloud_site, relay=True, turn="tls"))
    for pair in seen["pairs"]:
        assert pair is not None and pair.local_type == "relay", pair


def _udp_socket(host: netlab.Host, address: str) -> socket.socket:
    """A UDP socket of ``host`` (made inside it: a socket stays in its namespace), unblocking."""
    with host.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, 0))
    sock.setblocking(False)
    return sock


def _drain(sock: socket.socket) -> int:
    """Datagrams waiting on ``sock`` (read and counted)."""
    count = 0
    while True:
        try:
            sock.recv(2048)
        except BlockingIOError:
            return count
        count += 1


async def test_candidates_never_point_janus_into_the_servers_own_network(
    net: netlab.Internet, cloud_site: Site
) -> None:
    """A client's candidates at the cloud host's own addresses, private or public (1:1 NAT),
    or its loopback, get no check from Janus; one at a public address elsewhere does."""
    inside = _udp_socket(net.cloud, "0.0.0.0")  # every address of the cloud host, this port
    port = inside.getsockname()[1]
    control = _udp_socket(net.server, netlab.SERVER_IP)
    targets = [
        ("127.0.0.1", port),
        (netlab.CLOUD_PRIVATE_IP, port),  # the media address itself
        (netlab.CLOUD_SECOND_PRIVATE_IP, port),  # where coturn listens
        (netlab.CLOUD_PUBLIC_IP, port),  # MITALK_PUBLIC_IP: the provider maps it back here
        (netlab.SERVER_IP, control.getsockname()[1]),  # another machine on the internet
    ]

    async def scenario() -> int:
        served = cloud_site.served
        host, guest = await served.person(), await served.person()
        room_id = await served.open_room(host)
        assert (await served.call(guest, "POST", f"/rooms/{room_id}/join")).status_code == 200
        listened = await served.call(guest, "POST", f"/rooms/{room_id}/media/listen")
        assert listened.status_code == 200, listened.text
        offer = listened.json()["offer"]
        # Janus's own candidates kept from the client: it sends no check, so Janus cannot learn
        # a peer-reflexive path and keeps checking every candidate it is given.
        without = re.sub(r"a=candidate:[^\r\n]*\r\n", "", offer["sdp"])
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(without, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            sdp = re.sub(r"a=candidate:[^\r\n]*\r\n", "", pc.localDescription.sdp)
            mid = re.search(r"a=mid:(\S+)", sdp)
            assert mid, sdp
            answered = await served.call(
                guest, "POST", f"/rooms/{room_id}/media/answer",
                {"type": "answer", "sdp": sdp, "trickle": True},
            )  # fmt: skip
            assert answered.status_code == 204, answered.text
            candidates = [
                {"candidate": f"candidate:{n} 1 udp 2130706431 {address} {p} typ host",
                 "sdpMid": mid.group(1), "sdpMLineIndex": 0}
                for n, (address, p) in enumerate(targets)
            ]  # fmt: skip
            posted = await served.call(
                guest, "POST", f"/rooms/{room_id}/media/candidates",
                {"candidates": candidates, "completed": True},
            )  # fmt: skip
            assert posted.status_code == 204, posted.text
            # Janus checks the public candidate elsewhere, retransmitting while unanswered ...
            checks, deadline = 0, time.monotonic() + 15
            while checks < 2:
                assert time.monotonic() < deadline, "Janus sent no check to the usable candidate"
                await asyncio.sleep(0.1)
                checks += _drain(control)
            await asyncio.sleep(1)  # (a round of checks takes some tens of milliseconds)
            # ... and none into its own host, which it would have checked in the same rounds.
            return _drain(inside)
        finally:
            await pc.close()

    try:
        assert await net.home.run(scenario) == 0
    finally:
        inside.close()
        control.close()


def test_doctor_behind_1_1_nat_with_public_ip_finds_nothing_to_fix(
    net: netlab.Internet, trust_test_ca: CertAuthority, cloud_site: Site
) -> None:
    """The running cloud site, as its operator would check it: name, certificate, Janus and TURN
    configured with the public address, all through the host's 1:1 NAT."""
    settings = _turn_settings(
        net.cloud,
        trust_test_ca,
        f"https://{netlab.CLOUD_NAME}",
        MITALK_PUBLIC_IP=netlab.CLOUD_PUBLIC_IP,
    )
    env = mitalk_env(cloud_site.served.data_dir, MITALK_MEDIA="managed", **settings)
    result = subprocess.run(
        net.cloud.command(*MITALK, "doctor", "--json", "--ca", str(trust_test_ca.ca_file)),
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    findings = json.loads(result.stdout)
    failed = [f for f in findings if f["status"] == "fail"]
    assert result.returncode == 0 and not failed, json.dumps(findings, indent=1)
    checks = {f["check"]: f for f in findings}
    # (The run's certificate lasts a day: doctor warns that it ends soon, rightly.)
    assert checks["certificate"]["status"] in ("ok", "warn"), checks["certificate"]
    for check in ("DNS", "https", "HSTS", "redirect", "media address", "TURN", "TURN over TLS"):
        assert checks[check]["status"] == "ok", checks[check]
    assert netlab.CLOUD_PUBLIC_IP in checks["media address"]["detail"], checks["media address"]


async def test_behind_1_1_nat_without_public_ip_audio_does_not_flow(
    net: netlab.Internet, trust_test_ca: CertAuthority, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Janus offers only its private address: a client on the internet cannot reach it.

    Signaling works (https at the cloud's name, on ports the module's cloud_site leaves free).
    """
    data = tmp_path_factory.mktemp("nopublic") / "data"
    settings = _https_settings(
        net.cloud,
        trust_test_ca,
        f"https://{netlab.CLOUD_NAME}:8444",
        MITALK_HTTP_PORT="8081",
        MITALK_JANUS_API_PORT="8288",
        MITALK_JANUS_RTP_PORT_RANGE="42000-42999",
    )
    with serve_on(net.cloud, data, 8001, **settings) as site:

        async def scenario() -> tuple[str, str, int]:
            served = site.served
            host, guest = await served.person(), await served.person()
            room_id = await served.open_room(host)
            speaker = served.bot(host, room_id, SPEAKER_HZ, unmute_on_stage=True)
            listener = served.bot(guest, room_id)
            try:
                await speaker.start()
                await listener.start()  # signaling works: it is only the media path
                offered = listener.pc.remoteDescription.sdp if listener.pc else ""
                await asyncio.sleep(8)  # several times what a join takes when it works
                state = listener.pc.iceConnectionState if listener.pc else "none"
                return state, offered, len(listener.timeline.frames)
            finally:
                await speaker.close()
                await listener.close()

        state, offered, frames = await net.home.run(scenario)
    # Janus offered only its private address, which nobody on the internet can reach.
    assert netlab.CLOUD_PRIVATE_IP in offered and netlab.CLOUD_PUBLIC_IP not in offered
    assert state in ("new", "checking", "failed"), state
    assert frames == 0
