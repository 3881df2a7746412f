"""TURN: relayed audio for clients whose network blocks a direct path, with short-lived credentials.

Phones behind carrier-grade NAT and people on office or hotel networks that pass only TCP 443
cannot reach Janus directly; a TURN server relays their audio. Mi Talk hands each client the
ICE servers to use (``ice_servers``, RTCIceServer objects) in the answers of
``…/media/offer`` and ``…/media/listen``, each time with a fresh credential of coturn's
shared-secret scheme (the "TURN REST API"): the user name is ``<expiry>:<account id>``, the
password ``base64(HMAC-SHA1(secret, user name))``. coturn recomputes it, so no password is
stored anywhere and a credential stops working at its expiry (minutes); a running allocation
keeps refreshing on the key it authenticated with.

``MITALK_TURN=managed`` runs a coturn (Debian's ``coturn``) as a supervised child of the
service, with a generated configuration: shared-secret auth, no CLI, no DTLS, TLS 1.2+ only,
quotas per account and in total, a bandwidth cap per allocation, and no relaying to loopback,
private, link-local, CGNAT or multicast addresses except the media server's own address, nor to
the addresses coturn itself is reached at, and UDP relays only (so a credential cannot be used
to reach the host's or its network's other services).
``MITALK_TURN=external`` hands out credentials for the operator's own TURN servers.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitalk.core.ports import holder_of, in_use_by, process_owns_port
from mitalk.core.settings import Settings
from mitalk.core.supervise import ChildStartError, ChildSupervisor
from mitalk.media.janus_config import interface_address

log = logging.getLogger(__name__)

REALM = "mitalk"

# Peers no relay may reach, unless allowed again below (the media server): loopback, private
# (RFC 1918), carrier-grade NAT, link-local, "this network", IETF protocol assignments,
# benchmarking, multicast and reserved. IPv4 only: relays leave from the media address
# (relay-ip), an IPv4 address, so no relay reaches an IPv6 peer at all; and coturn 4.6.1
# matches IPv4 peers against IPv6 ranges ("::-::1" denied every IPv4 peer here, tested).
# The documentation ranges (TEST-NET-1..3) are not listed: the internet does not route them,
# and the project's own test network uses them for its public addresses.
DENIED_PEER_RANGES = (
    "0.0.0.0-0.255.255.255",
    "10.0.0.0-10.255.255.255",
    "100.64.0.0-100.127.255.255",
    "127.0.0.0-127.255.255.255",
    "169.254.0.0-169.254.255.255",
    "172.16.0.0-172.31.255.255",
    "192.0.0.0-192.0.0.255",
    "192.168.0.0-192.168.255.255",
    "198.18.0.0-198.19.255.255",
    "224.0.0.0-255.255.255.255",
)


def credential(secret: str, user_id: str, ttl_seconds: int, now: float) -> tuple[str, str]:
    """A TURN user name and password for ``user_id``, valid ``ttl_seconds`` from ``now``."""
    username = f"{int(now) + ttl_seconds}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


@dataclass(frozen=True)
class TurnEndpoints:
    """Where clients reach TURN: plain URLs (UDP, TCP) and, with a certificate, TLS ones."""

    urls: tuple[str, ...]

    @classmethod
    def managed(cls, settings: Settings, media_address: str) -> TurnEndpoints:
        """The URLs of the managed coturn as settings and the media address say."""
        host = settings.turn_host or (str(settings.public_ip) if settings.public_ip else None)
        host = host or media_address
        urls = [
            f"turn:{_bracket(host)}:{settings.turn_port}?transport=udp",
            f"turn:{_bracket(host)}:{settings.turn_port}?transport=tcp",
        ]
        if tls_configured(settings):
            tls_host = settings.turn_tls_host or host
            urls.append(f"turns:{_bracket(tls_host)}:{settings.turn_tls_port}?transport=tcp")
        return cls(tuple(urls))


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def tls_configured(settings: Settings) -> bool:
    """Whether the managed coturn gets a TLS listener (certificate and key given)."""
    return settings.turn_tls_cert is not None and settings.turn_tls_key is not None


class TurnCredentials:
    """Hands out ``ice_servers`` with fresh per-account credentials (see the module docstring)."""

    def __init__(self, urls: tuple[str, ...], secret: str, ttl_seconds: int) -> None:
        if not urls:
            raise ValueError("TURN needs at least one URL")
        self.urls, self.secret, self.ttl_seconds = urls, secret, ttl_seconds

    def ice_servers(self, user_id: str, now: float | None = None) -> list[dict[str, Any]]:
        """RTCIceServer objects for one account: TURN URLs with a credential valid for minutes."""
        username, password = credential(
            self.secret, user_id, self.ttl_seconds, time.time() if now is None else now
        )
        return [{"urls": list(self.urls), "username": username, "credential": password}]


# The managed coturn ---------------------------------------------------------------------------


def own_turn_addresses(settings: Settings, media_address: str) -> list[str]:
    """The addresses coturn itself is reached at (listening, TURN_HOST, TURN_TLS_HOST), which
    no relay may reach: a peer there is coturn's own listener, directly or through the host's
    1:1 NAT (a relay into itself), or another service on that address. Those that are the
    media server's (its address, MITALK_PUBLIC_IP) stay allowed: reaching Janus is the point."""
    candidates = [
        *(ip.strip() for ip in (settings.turn_listen or "").split(",")),
        settings.turn_host or "",
        settings.turn_tls_host or "",
    ]
    media = {media_address, str(settings.public_ip) if settings.public_ip else ""}
    own: list[str] = []
    for text in candidates:
        try:
            address = ipaddress.IPv4Address(text)
        except ValueError:
            continue  # a name, or empty: coturn's peer rules take addresses only
        if str(address) not in media and str(address) not in own:
            own.append(str(address))
    return own


def coturn_config(settings: Settings, *, media_address: str, pid_path: Path, userdb: Path) -> str:
    """The turnserver.conf of the managed coturn (see the module docstring for the choices)."""
    low, _, high = settings.turn_relay_port_range.partition("-")
    lines = [
        f"listening-port={settings.turn_port}",
        f"tls-listening-port={settings.turn_tls_port}",
        *(
            f"listening-ip={ip.strip()}"
            for ip in (settings.turn_listen or "").split(",")
            if ip.strip()
        ),
        # Relays leave from the media address, the one the host's 1:1 NAT maps (if any).
        f"relay-ip={media_address}",
        f"min-port={low}",
        f"max-port={high}",
        f"realm={REALM}",
        "use-auth-secret",
        f"static-auth-secret={settings.resolved_turn_secret}",
        "fingerprint",
        "no-cli",
        "no-dtls",  # browsers speak TURN over UDP, TCP and TLS; DTLS would only add surface
        "no-tlsv1",
        "no-tlsv1_1",
        "no-multicast-peers",
        # UDP relays only: WebRTC relays UDP (over TURN/UDP, TCP or TLS alike); a TCP relay
        # (RFC 6062) would open TCP connections to the media server's other ports for anyone.
        "no-tcp-relay",
        "no-rfc5780",  # NAT behaviour discovery: an amplifier, and not needed for WebRTC
        "no-stun-backward-compatibility",
        "response-origin-only-with-rfc5780",
        "no-software-attribute",
        "stale-nonce=600",
        f"user-quota={settings.turn_user_quota}",
        f"total-quota={settings.turn_total_quota}",
        f"max-bps={settings.turn_max_bps}",
        f"bps-capacity={settings.turn_total_bps}",
        *(f"denied-peer-ip={peers}" for peers in DENIED_PEER_RANGES),
        *(f"denied-peer-ip={ip}" for ip in own_turn_addresses(settings, media_address)),
        # The one private address a relay may reach: the media server Mi Talk owns.
        f"allowed-peer-ip={media_address}",
        f"pidfile={pid_path}",
        f"userdb={userdb}",
        "log-file=stdout",
        "simple-log",
    ]
    if settings.public_ip:
        lines.append(f"external-ip={settings.public_ip}/{media_address}")
    if tls_configured(settings):
        lines += [f"cert={settings.turn_tls_cert}", f"pkey={settings.turn_tls_key}"]
    else:
        lines.append("no-tls")
    return "\n".join(lines) + "\n"


class TurnStartError(RuntimeError):
    """coturn did not come up (binary missing, port taken, bad certificate)."""


class TurnSupervisor:
    """Keeps the managed coturn running as a child process (``core.supervise``).

    The child runs in the foreground (a crash is seen at once), dies with the service (parent
    death signal), is restarted with back-off, and logs to ``<data_dir>/turn/turn.log``. It
    counts as up when its TCP listener accepts and is held by this coturn itself
    (``core.ports``); a port that already accepts before the start belongs to somebody else
    (named when /proc shows who), and the start fails rather than hand out that server's address.
    """

    def __init__(
        self,
        settings: Settings,
        media_address: str,
        *,
        ready_timeout: float = 15.0,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        stop_timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self.media_address = media_address
        self.folder = settings.ensure_data_dir() / "turn"
        self.config_path = self.folder / "turnserver.conf"
        self.log_path = self.folder / "turn.log"
        self.pid_path = self.folder / "turnserver.pid"
        self._child = ChildSupervisor(
            "coturn",
            [settings.turn_binary, "-c", str(self.config_path)],
            log_path=self.log_path,
            ready=self._own_listener_accepts,
            cwd=self.folder,
            ready_timeout=ready_timeout,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            stop_timeout=stop_timeout,
            explain=self._port_taken,
        )
        self.ready = self._child.ready
        self._stopping = False

    @property
    def pid(self) -> int | None:
        """Pid of the running coturn, if any."""
        return self._child.pid

    @property
    def starts(self) -> int:
        """How many times coturn got ready (the first start included)."""
        return self._child.starts

    @property
    def probe_address(self) -> tuple[str, int]:
        """Where the TCP listener is checked: the first listening address, else loopback."""
        listen = [ip.strip() for ip in (self.settings.turn_listen or "").split(",") if ip.strip()]
        return (listen[0] if listen else "127.0.0.1", self.settings.turn_port)

    def write_config(self) -> None:
        """Write turnserver.conf (owner-only: it holds the shared secret)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        text = coturn_config(
            self.settings,
            media_address=self.media_address,
            pid_path=self.pid_path,
            userdb=self.folder / "turndb",
        )
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)

    async def start(self) -> None:
        """Start coturn and return once it accepts; raise TurnStartError otherwise."""
        if shutil.which(self.settings.turn_binary) is None:
            raise TurnStartError(
                f"{self.settings.turn_binary} not found: "
                "install Debian's coturn (MITALK_TURN=managed)"
            )
        self._kill_leftover()
        if await self._accepts():
            host, port = self.probe_address
            holder = holder_of("tcp", port)
            by = f" by {holder}" if holder is not None else ""
            raise TurnStartError(
                f"TCP {host}:{port} is in use{by}: set MITALK_TURN_PORT to a free one"
            )
        self.write_config()
        self._stopping = False
        try:
            await self._child.start()
        except ChildStartError as exc:
            raise TurnStartError(str(exc)) from None

    async def stop(self) -> None:
        """Stop coturn (SIGTERM, then SIGKILL) and its supervision."""
        self._stopping = True
        await self._child.stop()
        self.pid_path.unlink(missing_ok=True)

    def health(self) -> str:
        """``ok`` while coturn runs, else why not (for /healthz and ``mitalk doctor``)."""
        if self.ready.is_set() and self.pid is not None:
            return "ok"
        failure = self._child.last_failure
        if self._stopping or failure is None:
            return "unreachable: coturn is not running"
        return f"unreachable: coturn is not running (restarting; {failure})"

    async def _accepts(self) -> bool:
        host, port = self.probe_address
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    async def _own_listener_accepts(self) -> bool:
        # Accepting is not enough: the listener must be this coturn's own (a server that took
        # the port meanwhile would answer in its place).
        pid = self._child.pid
        return (
            pid is not None
            and await self._accepts()
            and process_owns_port(pid, "tcp", self.settings.turn_port)
        )

    def _port_taken(self, own_pid: int) -> str:
        """`` (TCP port N in use by X (pid P))`` when another process holds coturn's port."""
        # That process is what the operator must move (or MITALK_TURN_PORT), so name it.
        holder = holder_of("tcp", self.settings.turn_port)
        if holder is None or holder.pid == own_pid:
            return ""
        return f" (TCP port {self.settings.turn_port} {in_use_by(holder)})"

    def _kill_leftover(self) -> None:
        """Kill a coturn left by a previous service run on the same folder (SIGKILLed service)."""
        try:
            pid = int(self.pid_path.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.config_path).encode() not in cmdline:
            return  # the pid was reused by something else
        log.warning("killing leftover coturn (pid %d) from a previous run", pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)


def media_address(interface: str) -> str:
    """The IPv4 address of the media interface (where Janus offers media, relays go to)."""
    address = interface_address(interface)
    if address is None:
        raise RuntimeError(f"the media interface {interface} has no IPv4 address")
    return address


def turn_from_settings(
    settings: Settings, interface: str
) -> tuple[TurnCredentials | None, TurnSupervisor | None]:
    """What MITALK_TURN asks for: credentials to hand out, and a coturn to run (managed)."""
    if settings.turn == "off":
        return None, None
    if settings.turn == "external":
        if not settings.turn_url_list or not settings.turn_secret:
            raise ValueError("MITALK_TURN=external needs MITALK_TURN_URLS and MITALK_TURN_SECRET")
        bad = [u for u in settings.turn_url_list if not u.startswith(("turn:", "turns:", "stun:"))]
        if bad:
            raise ValueError(f"MITALK_TURN_URLS must be turn:, turns: or stun: URLs, not {bad}")
        credentials = TurnCredentials(
            tuple(settings.turn_url_list),
            settings.turn_secret.get_secret_value(),
            settings.turn_ttl_seconds,
        )
        return credentials, None
    address = media_address(interface)
    endpoints = TurnEndpoints.managed(settings, address)
    credentials = TurnCredentials(
        endpoints.urls, settings.resolved_turn_secret, settings.turn_ttl_seconds
    )
    return credentials, TurnSupervisor(settings, address)
