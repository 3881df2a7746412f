"""Which client ICE candidates reach Janus (media/candidates.py): the rules, case by case.

Runs in the media tests' namespace, whose interfaces (10.99.0.1/24 and 10.99.0.2/24, lo) are
the media host's own addresses that ``candidate_policy`` reads. That the coordinator applies
the policy to what clients send is tested with Janus in test_trickle.py and, on the test
internet, in tests/internet/test_turn.py.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from mitalk.core.settings import Settings
from mitalk.media.candidates import CandidatePolicy, candidate_policy


def line(address: str, port: int = 40000, kind: str = "host", transport: str = "udp") -> str:
    extra = " raddr 198.51.100.2 rport 5000" if kind != "host" else ""
    return f"candidate:1 1 {transport} 2130706431 {address} {port} typ {kind}{extra}"


EVERYWHERE_DROPPED = [
    "0.0.0.0",  # unspecified: Linux sends it to the host itself
    "::",
    "127.0.0.1",
    "127.8.8.8",
    "::1",
    "::ffff:127.0.0.1",  # loopback, IPv4-mapped
    "169.254.169.254",  # link-local: a cloud's metadata service
    "fe80::1",
    "224.0.0.251",  # multicast
    "255.255.255.255",
    "240.0.0.1",  # reserved
    "d5b3c0f4-1c9e-4a55-9a6b-2d1f3e4c5b6a.local",  # an mDNS name: Janus resolves no names
    "metadata.google.internal",
]


@pytest.mark.parametrize("internet", [False, True])
@pytest.mark.parametrize("address", EVERYWHERE_DROPPED)
def test_addresses_no_deployment_lets_janus_send_to(address: str, internet: bool) -> None:
    policy = CandidatePolicy(internet=internet, relay_ports=(49152, 65535))
    assert not policy.allows(line(address))
    assert not policy.allows(line(address, 50000, "relay"))


def test_malformed_lines_and_port_zero_are_dropped() -> None:
    policy = CandidatePolicy(internet=False)
    assert policy.allows(line("198.51.100.2"))
    for bad in (
        line("198.51.100.2", 0),
        "candidate:1 1 udp 2130706431 198.51.100.2 x typ host",
        "candidate:1 1 udp 2130706431 198.51.100.2 4000 host",
        "candidate:1 1 udp",
        "candidate:",
    ):
        assert not policy.allows(bad), bad


def test_plain_http_keeps_own_and_private_addresses() -> None:
    """Localhost and LAN deployments: the browser may run on the server itself."""
    policy = CandidatePolicy(internet=False)
    for address in ("10.99.0.2", "192.168.1.10", "172.16.0.11", "100.64.1.1", "fd00::5"):
        assert policy.allows(line(address))


def test_on_the_internet_own_and_foreign_private_addresses_are_dropped() -> None:
    own = {"203.0.113.10", "203.0.113.11", "172.16.0.10", "172.16.0.11", "203.0.113.70"}
    policy = CandidatePolicy(
        internet=True,
        own_addresses=frozenset(ipaddress.ip_address(a) for a in own),
        own_networks=(ipaddress.ip_network("172.16.0.0/24"),),
        relay_ports=(49152, 65535),
    )
    # The media host's own addresses, public or private: never for a host or srflx candidate.
    for address in own:
        assert not policy.allows(line(address)), address
        assert not policy.allows(line(address, 50000, "srflx")), address
        # A relay on the managed TURN's relay ports is this host's relay: that is TURN's point.
        assert policy.allows(line(address, 50000, "relay")), address
        assert policy.allows(line(address, 50000, "relay", "tcp")), address
        # Any other port of the host, even as "relay": not a relay of ours.
        assert not policy.allows(line(address, 5432, "relay")), address
    # Private addresses elsewhere (other subnets, a provider's network, behind NATs): dropped.
    for address in ("10.20.0.10", "192.168.1.10", "172.16.1.5", "100.64.0.1", "fd00::5"):
        assert not policy.allows(line(address)), address
    # A client on the server's own LAN keeps its direct path.
    assert policy.allows(line("172.16.0.55"))
    # Public addresses, and the documentation ranges the test internet uses for them.
    for address in ("198.51.100.2", "203.0.113.71", "8.8.8.8", "2001:db8::7"):
        assert policy.allows(line(address)), address


def test_without_managed_turn_no_relay_on_this_host_is_believed() -> None:
    policy = CandidatePolicy(
        internet=True, own_addresses=frozenset({ipaddress.ip_address("203.0.113.10")})
    )
    assert not policy.allows(line("203.0.113.10", 50000, "relay"))


def test_sdp_loses_exactly_the_dropped_candidate_lines() -> None:
    policy = CandidatePolicy(internet=False)
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        f"a={line('127.0.0.1')}\r\n"
        f"a={line('198.51.100.2')}\r\n"
        f"a={line('169.254.1.1', kind='srflx')}\r\n"
        "a=end-of-candidates\r\n"
    )
    assert policy.sdp(sdp) == (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        f"a={line('198.51.100.2')}\r\n"
        "a=end-of-candidates\r\n"
    )
    clean = "v=0\r\na=candidate:1 1 udp 5 198.51.100.2 9 typ host\r\n"
    assert policy.sdp(clean) is clean
    kept = policy.candidates(
        [{"candidate": line("10.0.0.1"), "sdpMid": "0"}, {"candidate": line("::1")}, {}]
    )
    assert kept == [{"candidate": line("10.0.0.1"), "sdpMid": "0"}]


def test_policy_of_an_https_deployment_reads_the_hosts_interfaces(tmp_path: Path) -> None:
    plain = candidate_policy(Settings(data_dir=tmp_path))
    assert plain == CandidatePolicy(internet=False)

    settings = Settings(
        data_dir=tmp_path,
        public_url="https://talk.example.org",
        public_ip=ipaddress.IPv4Address("198.51.100.77"),
        turn="managed",
        turn_relay_port_range="50000-50999",
    )
    policy = candidate_policy(settings)
    assert policy.internet and policy.relay_ports == (50000, 50999)
    own = {str(a) for a in policy.own_addresses}
    assert {"10.99.0.1", "10.99.0.2", "198.51.100.77"} <= own  # the namespace's veth ends
    assert ipaddress.ip_network("10.99.0.0/24") in policy.own_networks
    assert not any(n.network_address.is_loopback for n in policy.own_networks)
    assert not policy.allows(line("10.99.0.2"))  # this host
    assert policy.allows(line("10.99.0.77"))  # its LAN
    assert not policy.allows(line("10.98.0.1"))  # a private network elsewhere
    assert not policy.allows(line("198.51.100.77"))  # its public address (1:1 NAT)
    assert policy.allows(line("198.51.100.77", 50500, "relay"))  # … where its TURN relays
