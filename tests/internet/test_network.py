"""The test network behaves like the internet it stands for (tests/netlab.py).

Checked with plain sockets, so that a later media test that fails points at media, not at the
network: NAT hides the clients' addresses, the office passes TCP 443 and nothing else (UDP
dropped and counted), the cloud host is reached only at its public addresses and sees its
clients' public ones, and nobody outside reaches a private address.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess

import pytest

import netlab
from netlab import Host, Internet


async def _udp_echo(port: int, packets: int, ready: asyncio.Event | None = None) -> list[str]:
    """Answer ``packets`` UDP datagrams with the sender's address; return the senders seen."""
    loop = asyncio.get_running_loop()
    seen: list[str] = []
    done = loop.create_future()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            seen.append(addr[0])
            self.transport.sendto(addr[0].encode(), addr)  # type: ignore[attr-defined]
            if len(seen) >= packets and not done.done():
                done.set_result(None)

    transport, _ = await loop.create_datagram_endpoint(Echo, local_addr=("0.0.0.0", port))
    try:
        await asyncio.wait_for(done, 5)
    except TimeoutError:
        pass
    finally:
        transport.close()
    return seen


def _serve_tcp(host: Host, port: int, accepts: int) -> asyncio.Future[list[str]]:
    """Accept ``accepts`` TCP connections on ``host``, telling each its peer address."""

    async def serve() -> list[str]:
        seen: list[str] = []
        done = asyncio.get_running_loop().create_future()

        async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")[0]
            seen.append(peer)
            writer.write(peer.encode())
            await writer.drain()
            writer.close()
            if len(seen) >= accepts and not done.done():
                done.set_result(None)

        server = await asyncio.start_server(greet, "0.0.0.0", port)
        try:
            await asyncio.wait_for(done, 5)
        except TimeoutError:
            pass
        finally:
            server.close()
        return seen

    return asyncio.wrap_future(host.start(serve))


def _tcp_ask(host: Host, address: str, port: int) -> str | None:
    """Connect from ``host`` and read what the server says (None: no connection in 2 s)."""
    with host.entered(), socket.socket() as sock:
        sock.settimeout(2)
        try:
            sock.connect((address, port))
            return sock.recv(100).decode()
        except OSError:
            return None


def _udp_ask(host: Host, address: str, port: int) -> str | None:
    with host.entered(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        try:
            sock.sendto(b"hello", (address, port))
            return sock.recv(100).decode()
        except OSError:
            return None


async def test_clients_behind_nat_reach_the_server_from_their_public_address(net: Internet) -> None:
    server = net.server
    listening = _serve_tcp(server, 8000, 1)
    await asyncio.sleep(0.2)
    home_seen = await asyncio.to_thread(_tcp_ask, net.home, server.address, 8000)
    assert home_seen == netlab.HOME_PUBLIC_IP  # masqueraded: the server never sees 192.168.…
    udp = asyncio.wrap_future(server.start(lambda: _udp_echo(3478, 1)))
    await asyncio.sleep(0.2)
    assert (
        await asyncio.to_thread(_udp_ask, net.home, server.address, 3478) == netlab.HOME_PUBLIC_IP
    )
    assert await udp == [netlab.HOME_PUBLIC_IP]
    # A private address behind a NAT is nobody's business outside it.
    assert await listening == [netlab.HOME_PUBLIC_IP]
    assert await asyncio.to_thread(_tcp_ask, net.server, netlab.HOME_IP, 8000) is None


async def test_the_office_passes_tcp_443_and_drops_all_udp(net: Internet) -> None:
    server = net.server
    dropped_before = net.nft_counter("officegw", "office", "udp_dropped")
    on_443 = _serve_tcp(server, 443, 1)
    await asyncio.sleep(0.2)
    assert (
        await asyncio.to_thread(_tcp_ask, net.office, server.address, 443)
        == netlab.OFFICE_PUBLIC_IP
    )
    assert await on_443 == [netlab.OFFICE_PUBLIC_IP]

    on_8080 = _serve_tcp(server, 8080, 1)
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(_tcp_ask, net.office, server.address, 8080) is None
    assert await on_8080 == []  # never got there

    udp = asyncio.wrap_future(server.start(lambda: _udp_echo(3480, 1)))
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(_udp_ask, net.office, server.address, 3480) is None
    assert await udp == []
    assert net.nft_counter("officegw", "office", "udp_dropped") > dropped_before


async def test_the_cloud_host_is_reached_only_at_its_public_addresses(net: Internet) -> None:
    cloud = net.cloud
    assert cloud.address == netlab.CLOUD_PRIVATE_IP and cloud.public == netlab.CLOUD_PUBLIC_IP
    listening = _serve_tcp(cloud, 8001, 1)
    await asyncio.sleep(0.2)
    assert await asyncio.to_thread(_tcp_ask, net.home, cloud.address, 8001) is None
    assert await asyncio.to_thread(_tcp_ask, net.home, cloud.public, 8001) == netlab.HOME_PUBLIC_IP
    assert await listening == [netlab.HOME_PUBLIC_IP]
    # Going out, the cloud host speaks from its public address (SNAT), as seen by the server.
    udp = asyncio.wrap_future(net.server.start(lambda: _udp_echo(3481, 1)))
    await asyncio.sleep(0.2)
    assert (
        await asyncio.to_thread(_udp_ask, cloud, net.server.address, 3481) == netlab.CLOUD_PUBLIC_IP
    )
    assert await udp == [netlab.CLOUD_PUBLIC_IP]
    # Hairpin: the host reaching its own (second) public address arrives from its public one.
    hairpin = asyncio.wrap_future(cloud.start(lambda: _udp_echo(3479, 1)))
    await asyncio.sleep(0.2)
    assert (
        await asyncio.to_thread(_udp_ask, cloud, netlab.CLOUD_SECOND_PUBLIC_IP, 3479)
        == netlab.CLOUD_PUBLIC_IP
    )
    assert await hairpin == [netlab.CLOUD_PUBLIC_IP]


def test_every_host_resolves_the_servers_names_and_the_test_machine_does_not(
    net: Internet,
) -> None:
    async def resolve(name: str) -> str:
        infos = await asyncio.get_running_loop().getaddrinfo(name, 443, type=socket.SOCK_STREAM)
        return str(infos[0][4][0])

    for name, address in netlab.NAMES.items():
        # A process on a host (ip netns exec) and an in-process bot's thread on it alike.
        assert net.home.sh("getent", "hosts", name).split()[0] == address
        for host in (net.office, net.cloud):
            assert host.start(lambda n=name: resolve(n)).result(10) == address
        # Nothing of it leaks onto the test machine.
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo(name, 443)


def test_namespaces_are_this_runs_and_a_killed_runs_are_swept(net: Internet) -> None:
    names = set(net.namespaces)
    assert len(names) == 8 and all(n.startswith(netlab.PREFIX) for n in names)
    # A namespace named after a pid that no longer exists is a killed run's leftover.
    stale = f"{netlab.PREFIX}999999999-dead00-home"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        assert stale in netlab.remove_stale_namespaces()
        assert not (set(net.namespaces) & set(netlab.remove_stale_namespaces()))
    finally:
        subprocess.run(["ip", "netns", "del", stale], check=False, capture_output=True)
    assert all(name in os.listdir("/run/netns") for name in names)
    assert all(os.path.isfile(f"{netlab.NETNS_ETC}/{name}/hosts") for name in names)


@pytest.fixture(autouse=True)
def _host_namespace_untouched(net: Internet) -> None:
    """The test process's main thread stays in the namespace it started in."""
    assert not any(
        os.stat("/proc/thread-self/ns/net").st_ino == os.stat(f"/run/netns/{name}").st_ino
        for name in net.namespaces
    )
