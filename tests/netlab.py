"""An internet in network namespaces: a public server, clients behind NAT, a server behind 1:1 NAT.

What a phone meets on the way to a Mi Talk server, built from namespaces this test run
creates (``ip netns``), joined by veth pairs, with nftables doing what home routers, office
firewalls and cloud providers do. Nothing touches the host's own interfaces, routes or
firewall: every link is a veth pair between two namespaces of the run, and the "internet" in
the middle has no way out of them.

::

            home 192.168.1.10 ── homegw (masquerade) 198.51.100.2 ──┐
                                                                    │
    office 10.20.0.10 ── officegw (masquerade; forwards new TCP to  ├── inet (router) ── server 203.0.113.10
                           port 443 only, drops all other          │                     (+ .11, a second address)
                           outgoing traffic, UDP included)          │
                                 198.51.100.66 ─────────────────────┘
                                                                    └── cloudgw 203.0.113.66 ── cloud 172.16.0.10 (+ .11)
                                                                         1:1 NAT: 203.0.113.70 <-> 172.16.0.10,
                                                                                  203.0.113.71 <-> 172.16.0.11

- ``server``: a host with public addresses on its own interface (a plain VPS).
- ``cloud``: a host whose own addresses are private and which is reached only through
  public addresses its provider maps one to one (DNAT in, SNAT out, and hairpin: the host
  reaching its own public address comes back in from that public address, as on the big
  clouds).
- ``home``: a client behind a home router's NAT (masquerade).
- ``office``: a client behind an office firewall that drops every outgoing UDP packet and
  passes only new TCP connections to port 443.

The documentation ranges (TEST-NET-2, -3) stand in for public addresses; the private ranges
are the usual RFC 1918 ones. Namespaces are named ``mitalk-net-<pid>-<run>-<role>``; a run
killed before it cleaned up is swept by the next one (its pid is gone).

The servers have names, as real ones do: every host of the run resolves ``talk.mitalk.test``
to the server's first public address and ``cloud.mitalk.test`` to the cloud host's (``NAMES``),
through ``/etc/netns/<namespace>/hosts``, which ``ip netns exec`` puts in place of /etc/hosts
for what runs there. A name is what makes a client send SNI, which a TLS server behind 1:1 NAT
needs to pick its certificate (it cannot tell from the private address it was reached at).

Code runs on a host either as a process (``Host.command`` / ``Host.popen``: ``ip netns
exec``) or, for in-process bots, as a coroutine on a thread of its own that entered the
host's namespace (``Host.run``): sockets belong to the namespace of the thread that makes them.
Such a thread also gets the host's /etc files as ``ip netns exec`` gives them (a mount
namespace of its own, with the files bound over /etc), so names resolve there too.
"""  # noqa: E501 - the drawing of the network is wider than a line

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

PREFIX = "mitalk-net-"
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
NETNS_ETC = "/etc/netns"  # where `ip netns exec` finds a namespace's own /etc files

# Public-like addresses (documentation ranges) and the private ones behind the NATs.
SERVER_IP, SERVER_SECOND_IP = "203.0.113.10", "203.0.113.11"
CLOUD_PUBLIC_IP, CLOUD_SECOND_PUBLIC_IP = "203.0.113.70", "203.0.113.71"
CLOUD_PRIVATE_IP, CLOUD_SECOND_PRIVATE_IP = "172.16.0.10", "172.16.0.11"
CLOUD_GATEWAY_IP = "172.16.0.1"
HOME_IP, HOME_PUBLIC_IP = "192.168.1.10", "198.51.100.2"
OFFICE_IP, OFFICE_PUBLIC_IP = "10.20.0.10", "198.51.100.66"

INET_IP = "203.0.113.1"  # the internet's router, on the server's link

# Names every host of the run resolves (its /etc/hosts): the servers' web fronts, a second
# name on the server's second address, and an ACME CA "somewhere on the internet" (a test runs
# it on the router) that checks names through these same entries.
SERVER_NAME, CLOUD_NAME = "talk.mitalk.test", "cloud.mitalk.test"
SERVER_SECOND_NAME, ACME_CA_NAME = "www.mitalk.test", "acme.mitalk.test"
NAMES = {
    SERVER_NAME: SERVER_IP,
    CLOUD_NAME: CLOUD_PUBLIC_IP,
    SERVER_SECOND_NAME: SERVER_SECOND_IP,
    ACME_CA_NAME: INET_IP,
}

_libc = ctypes.CDLL(None, use_errno=True)


class NetlabError(RuntimeError):
    """The test network could not be built (no root, no ``ip`` or ``nft``)."""


def _setns(name: str) -> None:
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({name}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _own_etc(name: str) -> None:
    """Give the calling thread the namespace's /etc files, as ``ip netns exec`` does a process.

    A mount namespace of the thread's own (unshare affects the calling thread only), private so
    that nothing mounted here reaches the host, with each file of /etc/netns/<name> bound over
    its namespace-unaware place in /etc.
    """
    folder = os.path.join(NETNS_ETC, name)
    if not os.path.isdir(folder):
        return
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for entry in sorted(os.listdir(folder)):
        source, target = os.path.join(folder, entry), os.path.join("/etc", entry)
        _check(
            _libc.mount(source.encode(), target.encode(), None, MS_BIND, None),
            f"mount --bind {source} {target}",
        )


def _sh(*argv: str, stdin: str | None = None) -> None:
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetlabError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def remove_stale_namespaces() -> list[str]:
    """Delete namespaces of earlier runs whose process is gone (e.g. SIGKILLed); their names."""
    removed = []
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        match = re.fullmatch(rf"{PREFIX}(\d+)-\w+-\w+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
            shutil.rmtree(os.path.join(NETNS_ETC, name), ignore_errors=True)
            removed.append(name)
    return removed


@dataclass(frozen=True)
class Host:
    """One machine of the test network: its namespace, its own address, how others see it."""

    role: str
    netns: str
    address: str  # on its own interface
    public: str  # what the rest of the internet sees (the same for a public server)
    interface: str = "eth0"
    second_address: str | None = None  # a server's second address (TURN over TLS on 443)
    second_public: str | None = None

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside this host (``ip netns exec``)."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def sh(self, *argv: str, check: bool = True, timeout: float = 30) -> str:
        """Run a command on this host and return its output."""
        result = subprocess.run(
            self.command(*argv), capture_output=True, text=True, check=False, timeout=timeout
        )
        if check and result.returncode != 0:
            raise NetlabError(f"{self.role}: {' '.join(argv)}: {result.stderr.strip()}")
        return result.stdout

    def start(self, target: Callable[[], Coroutine[Any, Any, T]]) -> concurrent.futures.Future[T]:
        """Run ``target()`` on a new thread inside this host, on an event loop of its own."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def main() -> None:
            try:
                _setns(self.netns)
                _own_etc(self.netns)
                future.set_result(asyncio.run(target()))
            except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits the future
                future.set_exception(exc)

        threading.Thread(target=main, name=f"netlab-{self.role}", daemon=True).start()
        return future

    async def run(self, target: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Await ``target()`` run inside this host (see ``start``)."""
        return await asyncio.wrap_future(self.start(target))

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move the calling thread into this host for a block (for short, synchronous work).

        Only its network: names resolve as on the test machine (use ``start`` for names).
        """
        back = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            _setns(self.netns)
            yield
        finally:
            if _libc.setns(back, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "could not return to the previous namespace")
            os.close(back)


@dataclass
class Internet:
    """The whole test network; hosts by role (see the module docstring)."""

    run: str
    hosts: dict[str, Host] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)

    @property
    def server(self) -> Host:
        return self.hosts["server"]

    @property
    def cloud(self) -> Host:
        return self.hosts["cloud"]

    @property
    def home(self) -> Host:
        return self.hosts["home"]

    @property
    def office(self) -> Host:
        return self.hosts["office"]

    def router(self, role: str) -> Host:
        """A router of the network: ``inet``, ``homegw``, ``officegw``, ``cloudgw``."""
        return self.hosts[role]

    def nft_counter(self, router: str, table: str, name: str) -> int:
        """Packets counted so far by a named nftables counter on a router."""
        host = self.hosts[router]
        output = host.sh("nft", "list", "counter", "inet", table, name)
        match = re.search(r"packets (\d+)", output)
        if not match:
            raise NetlabError(f"no counter {name} on {router}: {output}")
        return int(match.group(1))

    # Building ------------------------------------------------------------------------------

    def _namespace(self, role: str) -> str:
        name = f"{PREFIX}{os.getpid()}-{self.run}-{role}"
        _sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        _sh("ip", "-n", name, "link", "set", "lo", "up")
        etc = os.path.join(NETNS_ETC, name)
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "hosts"), "w") as hosts:
            hosts.write("127.0.0.1 localhost\n::1 localhost\n")
            hosts.writelines(f"{address} {host}\n" for host, address in NAMES.items())
        return name

    @staticmethod
    def _link(
        ns_a: str, if_a: str, addrs_a: list[str], ns_b: str, if_b: str, addrs_b: list[str]
    ) -> None:
        _sh(
            "ip",
            "-n",
            ns_a,
            "link",
            "add",
            if_a,
            "type",
            "veth",
            "peer",
            "name",
            if_b,
            "netns",
            ns_b,
        )
        for ns, interface, addresses in ((ns_a, if_a, addrs_a), (ns_b, if_b, addrs_b)):
            for address in addresses:
                _sh("ip", "-n", ns, "addr", "add", address, "dev", interface)
            _sh("ip", "-n", ns, "link", "set", interface, "up")

    @staticmethod
    def _forwarding(ns: str) -> None:
        # Per namespace: a router's forwarding, and no ICMP redirects for hairpinned packets
        # (they would teach the cloud host a private shortcut no real cloud offers).
        for key, value in (
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
        ):
            _sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}")

    @staticmethod
    def _nft(ns: str, rules: str) -> None:
        _sh("ip", "netns", "exec", ns, "nft", "-f", "-", stdin=rules)

    def build(self) -> None:
        """Create every namespace, link, address, route and firewall rule."""
        ns = {role: self._namespace(role) for role in (
            "inet", "server", "cloudgw", "cloud", "homegw", "home", "officegw", "office"
        )}  # fmt: skip
        inet = ns["inet"]
        self._forwarding(inet)

        # A public server: two public addresses on its own interface.
        self._link(inet, "server", [f"{INET_IP}/26"], ns["server"], "eth0",
                   [f"{SERVER_IP}/26", f"{SERVER_SECOND_IP}/26"])  # fmt: skip
        _sh("ip", "-n", ns["server"], "route", "add", "default", "via", INET_IP)

        # A cloud host: private addresses, each mapped 1:1 to a public one by its provider.
        self._link(inet, "cloud", ["203.0.113.65/26"], ns["cloudgw"], "wan0",
                   ["203.0.113.66/26", f"{CLOUD_PUBLIC_IP}/26",
                    f"{CLOUD_SECOND_PUBLIC_IP}/26"])  # fmt: skip
        _sh("ip", "-n", ns["cloudgw"], "route", "add", "default", "via", "203.0.113.65")
        self._link(ns["cloudgw"], "lan0", [f"{CLOUD_GATEWAY_IP}/24"], ns["cloud"], "eth0",
                   [f"{CLOUD_PRIVATE_IP}/24", f"{CLOUD_SECOND_PRIVATE_IP}/24"])  # fmt: skip
        _sh("ip", "-n", ns["cloud"], "route", "add", "default", "via", CLOUD_GATEWAY_IP)
        self._forwarding(ns["cloudgw"])
        pairs = (
            (CLOUD_PUBLIC_IP, CLOUD_PRIVATE_IP),
            (CLOUD_SECOND_PUBLIC_IP, CLOUD_SECOND_PRIVATE_IP),
        )
        dnat = ";\n".join(f"ip daddr {pub} dnat to {priv}" for pub, priv in pairs)
        snat = ";\n".join(
            f'ip saddr {priv} oifname {{ "wan0", "lan0" }} snat to {pub}' for pub, priv in pairs
        )
        self._nft(
            ns["cloudgw"],
            f"""
            table ip onetoone {{
              chain prerouting {{
                type nat hook prerouting priority dstnat;
                {dnat}
              }}
              chain postrouting {{
                type nat hook postrouting priority srcnat;
                {snat}
              }}
            }}
        """,
        )

        # Clients behind NAT.
        for role, wan, inet_side, lan_net, client_ip in (
            ("home", "198.51.100.2/26", "198.51.100.1/26", "192.168.1", HOME_IP),
            ("office", "198.51.100.66/26", "198.51.100.65/26", "10.20.0", OFFICE_IP),
        ):
            gateway = ns[f"{role}gw"]
            self._link(inet, role, [inet_side], gateway, "wan0", [wan])
            _sh("ip", "-n", gateway, "route", "add", "default", "via", inet_side.split("/")[0])
            self._link(gateway, "lan0", [f"{lan_net}.1/24"], ns[role], "eth0", [f"{client_ip}/24"])
            _sh("ip", "-n", ns[role], "route", "add", "default", "via", f"{lan_net}.1")
            self._forwarding(gateway)
            self._nft(
                gateway,
                """
                table ip nat {
                  chain postrouting { type nat hook postrouting priority srcnat; oifname "wan0" masquerade; }
                }
            """,  # noqa: E501 - an nft rule reads best whole
            )
        # The office firewall: out only to TCP 443; replies to those only; the rest dropped
        # and counted (so a test can show that something was tried and stopped).
        self._nft(
            ns["officegw"],
            """
            table inet office {
              counter udp_dropped {}
              counter other_dropped {}
              chain forward {
                type filter hook forward priority filter; policy drop;
                ct state established,related accept
                iifname "lan0" oifname "wan0" tcp dport 443 ct state new accept
                iifname "lan0" meta l4proto udp counter name udp_dropped drop
                counter name other_dropped drop
              }
            }
        """,
        )

        self.hosts = {
            "server": Host("server", ns["server"], SERVER_IP, SERVER_IP,
                           second_address=SERVER_SECOND_IP, second_public=SERVER_SECOND_IP),
            "cloud": Host("cloud", ns["cloud"], CLOUD_PRIVATE_IP, CLOUD_PUBLIC_IP,
                          second_address=CLOUD_SECOND_PRIVATE_IP,
                          second_public=CLOUD_SECOND_PUBLIC_IP),
            "home": Host("home", ns["home"], HOME_IP, HOME_PUBLIC_IP),
            "office": Host("office", ns["office"], OFFICE_IP, OFFICE_PUBLIC_IP),
            "inet": Host("inet", inet, INET_IP, INET_IP, interface="server"),
            "homegw": Host("homegw", ns["homegw"], "192.168.1.1", HOME_PUBLIC_IP, "lan0"),
            "officegw": Host("officegw", ns["officegw"], "10.20.0.1", OFFICE_PUBLIC_IP, "lan0"),
            "cloudgw": Host("cloudgw", ns["cloudgw"], CLOUD_GATEWAY_IP, "203.0.113.66", "lan0"),
        }  # fmt: skip

    def destroy(self) -> None:
        """Delete every namespace of this run (their veth pairs go with them)."""
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
            shutil.rmtree(os.path.join(NETNS_ETC, name), ignore_errors=True)
        self.namespaces.clear()


@contextlib.contextmanager
def internet() -> Iterator[Internet]:
    """Build the test network for the duration of the block, then delete it."""
    if os.geteuid() != 0:
        raise NetlabError("the test network needs root (it creates network namespaces)")
    for tool in ("ip", "nft", "sysctl"):
        if shutil.which(tool) is None:
            raise NetlabError(
                f"the test network needs `{tool}` (apt-get install iproute2 nftables procps)"
            )
    remove_stale_namespaces()
    net = Internet(run=secrets.token_hex(3))
    try:
        net.build()
        yield net
    finally:
        net.destroy()
