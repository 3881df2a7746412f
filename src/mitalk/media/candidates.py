"""Which of a client's ICE candidates Janus may use: never a way into the server's own network.

A candidate is an address the client asks Janus to send connectivity checks to (STUN requests,
then media). Taken on the client's word, it would make Janus send packets wherever the client
likes: to the server's loopback services, the link-local metadata service of a cloud, or the
provider's private network. So before a description or a trickled candidate reaches Janus, the
candidates in it pass this filter; the others are dropped (the rest of the request goes on: a
browser legitimately gathers a candidate or two that the server cannot use).

Every deployment drops: names instead of addresses (mDNS ``….local`` hosts, which Janus is set
to ignore anyway, and any other name: the server resolves nothing on a client's say-so),
unspecified, loopback, link-local, multicast, broadcast and reserved addresses, port 0.

A deployment on the internet (an https MITALK_PUBLIC_URL, where no client runs on the server
itself) drops besides:

- the media host's own addresses (its interfaces' and MITALK_PUBLIC_IP), except a relay
  candidate on a port of the managed TURN server's relay range: that relay runs on this host,
  and reaching it is the point of TURN;
- private addresses (RFC 1918, shared address space 100.64/10, IPv6 unique local) outside the
  subnets of the media host's own interfaces: a phone on the server's own LAN keeps its direct
  path, while a client cannot point Janus at the rest of a provider's private network. What a
  client behind NAT gathers there (its home or office address) is unreachable anyway.

Dropping a candidate never stops a client that can reach Janus: Janus learns the client's
address from the client's own checks (peer-reflexive candidates). It only stops Janus from
sending first to where the client said.

The plain-http default (localhost, a LAN, the tests' namespaces) keeps the media host's own
and private addresses: there the browser or bot often runs on the server itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ifaddr

from mitalk.core.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Private by allocation (not "not global": the documentation ranges stay usable, as in tests).
PRIVATE_RANGES: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)


def _unusable_anywhere(address: IPAddress) -> bool:
    return (
        address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address == ipaddress.IPv4Address("255.255.255.255")
    )


def parse_address(text: str) -> IPAddress | None:
    """The address of a candidate as an IP address (IPv4-mapped IPv6 unwrapped); None: a name."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class CandidatePolicy:
    """What this media host lets Janus send checks to (see the module docstring)."""

    internet: bool  # an https deployment: own and foreign private addresses dropped too
    own_addresses: frozenset[IPAddress] = frozenset()
    own_networks: tuple[IPNetwork, ...] = ()  # the subnets of the media host's interfaces
    relay_ports: tuple[int, int] | None = None  # the managed TURN's relay port range

    def allows(self, candidate: str) -> bool:
        """Whether a candidate (an a=candidate value, with or without ``a=``) may reach Janus."""
        fields = candidate.removeprefix("a=").removeprefix("candidate:").split()
        # foundation component transport priority address port "typ" type [extensions]
        if len(fields) < 8 or fields[6] != "typ":
            return False
        address, kind = parse_address(fields[4]), fields[7]
        try:
            port = int(fields[5])
        except ValueError:
            return False
        if address is None or not 0 < port < 65536 or _unusable_anywhere(address):
            return False
        if not self.internet:
            return True
        if address in self.own_addresses:
            low, high = self.relay_ports or (1, 0)
            return kind == "relay" and low <= port <= high
        if any(address in network for network in PRIVATE_RANGES):
            return any(address in network for network in self.own_networks)
        return True

    def candidates(self, candidates: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The trickled candidates (``RTCIceCandidate.toJSON()`` objects) that may reach Janus."""
        return [c for c in candidates if self.allows(str(c.get("candidate", "")))]

    def sdp(self, sdp: str) -> str:
        """The SDP with the a=candidate lines this policy drops taken out (the rest as sent)."""
        lines = sdp.split("\n")
        kept = [
            line
            for line in lines
            if not line.startswith("a=candidate:") or self.allows(line.rstrip("\r"))
        ]
        return "\n".join(kept) if len(kept) != len(lines) else sdp


def _interfaces() -> tuple[set[IPAddress], set[IPNetwork]]:
    addresses: set[IPAddress] = set()
    networks: set[IPNetwork] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]  # IPv6: (address, flow, scope)
            address = parse_address(text)
            if address is None:
                continue
            addresses.add(address)
            networks.add(ipaddress.ip_network(f"{address}/{ip.network_prefix}", strict=False))
    return addresses, networks


def candidate_policy(settings: Settings) -> CandidatePolicy:
    """The policy of this media host now (its interfaces are read on each call: they change)."""
    if not settings.https:
        return CandidatePolicy(internet=False)
    addresses, networks = _interfaces()
    if settings.public_ip is not None:
        addresses.add(settings.public_ip)
    relay_ports = None
    if settings.turn == "managed":
        low, _, high = settings.turn_relay_port_range.partition("-")
        relay_ports = (int(low), int(high))
    return CandidatePolicy(
        internet=True,
        own_addresses=frozenset(addresses),
        own_networks=tuple(n for n in networks if not _unusable_anywhere(n.network_address)),
        relay_ports=relay_ports,
    )
