"""Ports on this host: is one free, who holds it, does a given process own it, find free ones.

The service checks these before it starts anything bound to a fixed port (its HTTP listener,
the managed Janus; a managed TURN server alike), so that a second instance on one host fails
with one line naming the port and the setting to change, instead of talking to somebody
else's server. Linux only: holders are found through ``/proc`` (sockets of the network
namespace of the process asked about, and each process's open descriptors); processes of
other users stay anonymous unless the service runs as root.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Protocol = Literal["tcp", "udp"]

_TCP_LISTEN = "0A"


class StartupError(RuntimeError):
    """The service cannot start; the message is one line for an operator, saying what to do."""


class PortTaken(StartupError):
    """A port (or port range) the service needs is in use: by whom, and which setting to change."""

    def __init__(self, problem: str, setting: str, *, holder: Holder | None = None) -> None:
        super().__init__(f"{problem}; set {setting} to choose another")
        self.problem = problem
        self.setting = setting
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """A process holding a port: its pid and name (``comm``), if /proc lets us see them."""

    pid: int
    name: str

    def __str__(self) -> str:
        return f"{self.name} (pid {self.pid})"


@dataclass(frozen=True)
class BoundSocket:
    """A socket bound to a local port: TCP ones only when listening, UDP ones always."""

    protocol: Protocol
    address: str
    port: int
    inode: int


@dataclass(frozen=True)
class ProcessInfo:
    """A running process as /proc shows it."""

    pid: int
    name: str
    argv: tuple[str, ...]

    def option(self, *flags: str) -> str | None:
        """The value of an option given as ``-F value``, ``--flag=value`` or ``--flag value``."""
        for index, arg in enumerate(self.argv):
            for flag in flags:
                if arg == flag and index + 1 < len(self.argv):
                    return self.argv[index + 1]
                if flag.startswith("--") and arg.startswith(f"{flag}="):
                    return arg.split("=", 1)[1]
        return None

    def path(self, value: str) -> Path:
        """A path from its command line, relative ones taken from its working directory."""
        path = Path(value)
        if not path.is_absolute():
            with contextlib.suppress(OSError):
                path = Path(os.readlink(f"/proc/{self.pid}/cwd")) / path
        return path


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc prints IPv6 addresses as four host-order 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def _net_dir(pid: int | None) -> Path:
    # thread-self: the calling thread's namespace, which is what a bind() here would meet
    # (tests move only their main thread into a namespace; /proc/self follows the leader).
    return Path(f"/proc/{pid}/net") if pid is not None else Path("/proc/thread-self/net")


def bound_sockets(
    protocol: Protocol, low: int = 1, high: int = 65535, *, pid: int | None = None
) -> list[BoundSocket]:
    """Sockets bound to a port in ``low..high``, in the network namespace of ``pid`` (or ours)."""
    found = []
    for suffix in ("", "6"):
        try:
            lines = (_net_dir(pid) / f"{protocol}{suffix}").read_text().splitlines()[1:]
        except OSError:
            continue  # no IPv6, or the process is gone
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            address, _, port_hex = fields[1].partition(":")
            port = int(port_hex, 16)
            if not low <= port <= high or (protocol == "tcp" and fields[3] != _TCP_LISTEN):
                continue
            found.append(BoundSocket(protocol, _decode_address(address), port, int(fields[9])))
    return found


def _socket_inodes(pid: int) -> Iterator[int]:
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return  # gone, or another user's (not root)
    for name in names:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            if target.startswith("socket:["):
                yield int(target[8:-1])


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def holders_of(sockets: Iterable[BoundSocket]) -> dict[int, Holder]:
    """Which process holds each socket, by inode; sockets of unseen processes are left out."""
    wanted = {s.inode for s in sockets if s.inode}
    found: dict[int, Holder] = {}
    if not wanted:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        for inode in _socket_inodes(pid):
            if inode in wanted and inode not in found:
                found[inode] = Holder(pid, _process_name(pid))
        if len(found) == len(wanted):
            break
    return found


def holder_of(protocol: Protocol, port: int) -> Holder | None:
    """The process holding ``port`` in our network namespace, if one can be seen."""
    sockets = bound_sockets(protocol, port, port)
    holders = holders_of(sockets)
    return next((holders[s.inode] for s in sockets if s.inode in holders), None)


def process_owns_port(pid: int, protocol: Protocol, port: int) -> bool:
    """Whether process ``pid`` itself holds a socket bound (TCP: listening) to ``port``.

    The "is the server answering this port the one I started" check: a server that failed to
    bind exits or carries on without the port, while another one answers in its place.
    """
    inodes = {s.inode for s in bound_sockets(protocol, port, port, pid=pid)}
    return bool(inodes) and any(inode in inodes for inode in _socket_inodes(pid))


def tcp_port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (tried with a real bind)."""
    try:
        with listen_tcp(host, port):
            return True
    except OSError as exc:
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return False
        raise


def listen_tcp(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket listening on ``host:port`` (with SO_REUSEADDR, as servers); OSError if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def udp_ports_in_use(low: int, high: int) -> dict[int, Holder | None]:
    """UDP ports in ``low..high`` that something has bound in our namespace, with their holders."""
    sockets = bound_sockets("udp", low, high)
    holders = holders_of(sockets)
    return {s.port: holders.get(s.inode) for s in sorted(sockets, key=lambda s: s.port)}


def ephemeral_port_range() -> tuple[int, int]:
    """The kernel's ports for outgoing connections (servers' fixed ranges should avoid them)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether two inclusive port ranges share a port."""
    return a[0] <= b[1] and b[0] <= a[1]


def in_use_by(holder: Holder | None) -> str:
    """``"in use by janus (pid 42)"``, or just ``"in use"`` when the holder cannot be seen."""
    return f"in use by {holder}" if holder is not None else "in use"


def processes(names: Iterable[str], *, any_namespace: bool = False) -> list[ProcessInfo]:
    """Running processes named (``comm``) one of ``names``; by default in our network namespace."""
    wanted = set(names)
    own_netns = _netns_of(None)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        name = _process_name(pid)
        if name not in wanted:
            continue
        if not any_namespace:
            netns = _netns_of(pid)
            if netns is not None and netns != own_netns:
                continue  # another namespace's ports never collide with ours
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        found.append(ProcessInfo(pid, name, tuple(a.decode(errors="replace") for a in argv)))
    return found


def _netns_of(pid: int | None) -> int | None:
    path = f"/proc/{pid}/ns/net" if pid is not None else "/proc/thread-self/ns/net"
    try:
        return os.stat(path).st_ino
    except OSError:
        return None  # another user's process (not root): assume it could collide
