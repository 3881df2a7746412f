"""`mitalk doctor`: check a deployment from the machine it runs on and say what to fix.

Each check gives one finding: ``ok``, ``warn`` (works, but something people will notice) or
``fail`` (something people cannot do), with the fix in words. It reads the same ``MITALK_``
settings as ``mitalk serve`` and looks at what is running: the public URL as a phone reaches
it (DNS, certificate, redirect, HSTS, /healthz), the ports bound, Janus and TURN, the address
media is offered on, the clock, the database and Redis. ``mitalk doctor`` exits 0 when no
check failed. See docs/deploy.md.
"""

from __future__ import annotations

import asyncio
import ctypes
import datetime as dt
import fcntl
import ipaddress
import os
import re
import secrets
import socket
import ssl
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID
from redis.asyncio import Redis
from sqlalchemy import text

from mitalk.core.database import Database
from mitalk.core.migrate import current_revision, head_revision
from mitalk.core.settings import Settings
from mitalk.front.caddy import caddy_paths, https_port
from mitalk.media.janus_config import interface_address, pick_media_interface

Status = Literal["ok", "warn", "fail"]

# A certificate this close to its end is worth a look (Caddy renews a third of its life early).
CERT_WARN_DAYS = 14
# More clock difference than this to the database or Redis server breaks expiries and windows.
MAX_CLOCK_SKEW_SECONDS = 2.0
# One check never waits longer than this for a network answer.
TIMEOUT = 5.0


@dataclass(frozen=True)
class Finding:
    """The result of one check."""

    check: str
    status: Status
    detail: str
    fix: str | None = None


@dataclass
class Context:
    """What the checks share: the settings, extra trust, and what earlier checks learned."""

    settings: Settings
    ca_file: Path | None = None
    public_addresses: tuple[str, ...] = ()


Check = Callable[[Context], Awaitable[list[Finding]]]


def ok(check: str, detail: str) -> Finding:
    """A passed check."""
    return Finding(check, "ok", detail)


def warn(check: str, detail: str, fix: str) -> Finding:
    """A check that passed with something worth fixing."""
    return Finding(check, "warn", detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    """A failed check and how to fix it."""
    return Finding(check, "fail", detail, fix)


# Addresses of this machine ----------------------------------------------------------------------

_SIOCGIFADDR = 0x8915


def local_addresses() -> set[str]:
    """The IPv4 addresses of this machine's interfaces (in the calling thread's namespace)."""
    found = set()
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                reply = fcntl_ioctl(
                    probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15])
                )
            except OSError:
                continue
        found.add(socket.inet_ntoa(reply[20:24]))
    return found


def fcntl_ioctl(fd: int, request: int, argument: bytes) -> bytes:
    """``fcntl.ioctl`` on a socket (Linux's interface requests)."""
    return fcntl.ioctl(fd, request, argument)


# Addresses only reachable inside a site or a provider's network (RFC 1918, carrier-grade NAT,
# loopback, link-local): a phone on the internet cannot send media to them.
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


def _is_public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not any(ip in network for network in _PRIVATE)


def listening(protocol: Literal["tcp", "udp"]) -> set[tuple[str, int]]:
    """(address, port) of the sockets this machine listens on (TCP) or has bound (UDP)."""
    found: set[tuple[str, int]] = set()
    for version in ("", "6"):
        try:
            lines = Path(f"/proc/net/{protocol}{version}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if protocol == "tcp" and state != "0A":  # LISTEN
                continue
            if protocol == "udp" and state != "07":  # unconnected (bound)
                continue
            hex_address, hex_port = local.split(":")
            raw = bytes.fromhex(hex_address)
            if len(raw) == 4:
                address = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                address = socket.inet_ntop(socket.AF_INET6, b"".join(words))
            found.add((address, int(hex_port, 16)))
    return found


def _bound(sockets: set[tuple[str, int]], address: str | None, port: int) -> bool:
    wildcard = {"0.0.0.0", "::"}
    for bound_address, bound_port in sockets:
        if bound_port != port:
            continue
        if address is None or bound_address in wildcard or bound_address == address:
            return True
        if bound_address.startswith("::ffff:") and bound_address[7:] == address:
            return True
    return False


# The public URL -------------------------------------------------------------------------------


async def check_public_url(ctx: Context) -> list[Finding]:
    """MITALK_PUBLIC_URL is set, https, and its name resolves to this machine (or its NAT)."""
    settings = ctx.settings
    if not settings.public_url:
        return [
            fail(
                "public URL",
                "MITALK_PUBLIC_URL is not set",
                "set MITALK_PUBLIC_URL=https://talk.example.com (the name people type; browsers "
                "give a page the microphone only over https)",
            )
        ]
    host = settings.public_host or ""
    findings = []
    if settings.https:
        findings.append(ok("public URL", settings.public_url))
    else:
        findings.append(
            fail(
                "public URL",
                f"{settings.public_url} is plain http: phones will not give the page a microphone",
                f"set MITALK_PUBLIC_URL=https://{urlsplit(settings.public_url).netloc}",
            )
        )
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        findings.append(
            fail(
                "DNS",
                f"{host} does not resolve ({exc.strerror})",
                f"add an A record for {host} pointing at this machine's public address",
            )
        )
        return findings
    addresses = tuple(sorted({str(info[4][0]) for info in infos}))
    ctx.public_addresses = addresses
    local = local_addresses()
    public_ip = str(settings.public_ip) if settings.public_ip else None
    here = [
        a for a in addresses if a in local or a == public_ip or ipaddress.ip_address(a).is_loopback
    ]
    if here:
        how = "this machine" if any(a in local for a in here) else f"MITALK_PUBLIC_IP {public_ip}"
        findings.append(ok("DNS", f"{host} → {', '.join(addresses)} ({how})"))
    else:
        findings.append(
            fail(
                "DNS",
                f"{host} → {', '.join(addresses)}, which is no address of this machine",
                f"if this machine sits behind 1:1 NAT with the public address {addresses[0]}, set "
                f"MITALK_PUBLIC_IP={addresses[0]}; otherwise point {host}'s A record at this "
                "machine",
            )
        )
    return findings


def _trust(ctx: Context) -> ssl.SSLContext:
    """The trust a phone would have: the system's roots, plus --ca and Caddy's local root."""
    context = ssl.create_default_context()
    extra = [ctx.ca_file] if ctx.ca_file else []
    local_root = caddy_paths(ctx.settings).local_ca_root
    if ctx.settings.tls_issuer == "internal" and local_root.exists():
        extra.append(local_root)
    for path in extra:
        context.load_verify_locations(cafile=str(path))
    return context


def _https_target(settings: Settings) -> tuple[str, int]:
    parts = urlsplit(settings.public_url or "")
    return parts.hostname or "", parts.port or 443


async def _peer_certificate(host: str, port: int, connect_to: str | None) -> x509.Certificate:
    """The certificate the server presents for ``host`` (not verified: to say what is wrong)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.wait_for(
        asyncio.open_connection(connect_to or host, port, ssl=context, server_hostname=host),
        TIMEOUT,
    )
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
    finally:
        writer.close()
    return x509.load_der_x509_certificate(der)


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [
            str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return [str(n) for n in san.get_values_for_type(x509.DNSName)] + [
        str(n) for n in san.get_values_for_type(x509.IPAddress)
    ]


async def check_certificate(ctx: Context) -> list[Finding]:
    """The certificate of the public URL: trusted, for the right name, not near its end."""
    settings = ctx.settings
    if not settings.https:
        return []
    host, port = _https_target(settings)
    try:
        certificate = await _peer_certificate(host, port, None)
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return [
            fail(
                "certificate",
                f"no TLS answer from {host}:{port} ({exc})",
                "start `mitalk serve` (it runs Caddy for an https MITALK_PUBLIC_URL) and open "
                f"TCP {port} in the firewall",
            )
        ]
    names = _names(certificate)
    issuer = certificate.issuer.rfc4514_string()
    ends = certificate.not_valid_after_utc
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=_trust(ctx), server_hostname=host), TIMEOUT
        )
        writer.close()
    except ssl.SSLCertVerificationError as exc:
        reason = exc.verify_message or str(exc)
        fix = "Caddy gets and renews certificates itself: see its log (data dir, caddy/caddy.log)"
        if settings.tls_cert:
            fix = f"replace MITALK_TLS_CERT ({settings.tls_cert}) with a valid chain for {host}"
        if settings.tls_issuer == "internal" or "self-signed" in reason or "local issuer" in reason:
            fix += "; a local CA's root must be installed on every device (docs/deploy.md)"
        return [
            fail(
                "certificate",
                f"{host}:{port} presents a certificate phones refuse: {reason} "
                f"(names {', '.join(names) or 'none'}; issuer {issuer}; "
                f"valid until {ends:%Y-%m-%d})",
                fix,
            )
        ]
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return [
            fail(
                "certificate",
                f"TLS with {host}:{port} failed: {exc}",
                "see the caddy log in the data dir",
            )
        ]
    days = (ends - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    detail = f"{', '.join(names)}; issuer {issuer}; valid until {ends:%Y-%m-%d} ({days:.0f} days)"
    if days < CERT_WARN_DAYS:
        fix = "Caddy renews it by itself: if it does not, read caddy/caddy.log in the data dir"
        if settings.tls_cert:
            fix = f"renew the certificate in MITALK_TLS_CERT ({settings.tls_cert}) and restart"
        return [warn("certificate", f"ends in {days:.1f} days: {detail}", fix)]
    return [ok("certificate", detail)]


async def check_https_answers(ctx: Context) -> list[Finding]:
    """Over the public URL: /healthz answers 200 with HSTS, and plain http redirects to https."""
    settings = ctx.settings
    if not settings.https:
        return []
    findings = []
    async with httpx.AsyncClient(verify=_trust(ctx), timeout=TIMEOUT, trust_env=False) as http:
        try:
            answer = await http.get(f"{settings.public_url}/healthz")
        except httpx.HTTPError as exc:
            findings.append(
                fail(
                    "https",
                    f"GET {settings.public_url}/healthz failed: {exc}",
                    "is `mitalk serve` running?",
                )
            )
        else:
            if answer.status_code != 200:
                findings.append(
                    fail(
                        "https",
                        f"/healthz answered {answer.status_code}: {answer.text[:200]}",
                        "see the service's log",
                    )
                )
            else:
                findings.append(ok("https", f"{settings.public_url}/healthz answers 200"))
            if "strict-transport-security" in answer.headers:
                findings.append(ok("HSTS", answer.headers["strict-transport-security"]))
            else:
                findings.append(
                    fail(
                        "HSTS",
                        "https answers carry no Strict-Transport-Security header",
                        "the proxy in front must pass X-Forwarded-Proto: https from a trusted "
                        "address (uvicorn trusts 127.0.0.1), and MITALK_HSTS_MAX_AGE must not be 0",
                    )
                )
    if settings.managed_tls:
        host = settings.public_host or ""
        port = settings.http_port
        target = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
        async with httpx.AsyncClient(
            timeout=TIMEOUT, trust_env=False, follow_redirects=False
        ) as http:
            try:
                answer = await http.get(target)
            except httpx.HTTPError as exc:
                findings.append(
                    fail(
                        "redirect",
                        f"nothing answers plain http on port {port} ({exc})",
                        f"open TCP {port}: it redirects to https and answers ACME's http challenge",
                    )
                )
            else:
                location = answer.headers.get("location", "")
                if answer.is_redirect and location.startswith("https://"):
                    findings.append(ok("redirect", f"http://…:{port} → {location}"))
                else:
                    findings.append(
                        fail(
                            "redirect",
                            f"plain http answered {answer.status_code}, not a redirect to https",
                            f"port {port} is held by something else than the managed Caddy",
                        )
                    )
    return findings


# Ports -----------------------------------------------------------------------------------------


async def check_ports(ctx: Context) -> list[Finding]:
    """What `mitalk serve` should listen on is bound, and the API is not reachable around TLS."""
    settings = ctx.settings
    tcp, udp = listening("tcp"), listening("udp")
    expected: list[tuple[str, str, str | None, int]] = [
        ("tcp", "API", settings.host, settings.port)
    ]
    if settings.managed_tls:
        expected.append(("tcp", "https (Caddy)", settings.https_address, https_port(settings)))
        expected.append(("tcp", "http → https (Caddy)", settings.https_address, settings.http_port))
    if settings.media == "managed":
        expected.append(("tcp", "Janus API", "127.0.0.1", settings.janus_api_port))
    if settings.turn == "managed":
        turn_address = settings.turn_listen.split(",")[0].strip() if settings.turn_listen else None
        expected.append(("udp", "TURN", turn_address, settings.turn_port))
        expected.append(("tcp", "TURN", turn_address, settings.turn_port))
        if settings.turn_tls_cert:
            expected.append(("tcp", "TURN over TLS", turn_address, settings.turn_tls_port))
    findings = []
    missing = []
    for protocol, what, address, port in expected:
        if _bound(tcp if protocol == "tcp" else udp, address, port):
            findings.append(ok("port", f"{what}: {protocol.upper()} {address or '*'}:{port}"))
        else:
            missing.append(f"{what} ({protocol.upper()} {address or '*'}:{port})")
    if missing:
        findings.append(
            fail(
                "ports",
                "nothing listens for " + ", ".join(missing),
                "start `mitalk serve` with these settings, and see its log for what failed",
            )
        )
    if settings.https and settings.host not in ("127.0.0.1", "::1", "localhost"):
        findings.append(
            warn(
                "ports",
                f"the API listens on {settings.host}:{settings.port}, not only on loopback",
                "set MITALK_HOST=127.0.0.1: behind TLS nobody should reach the API in plain http",
            )
        )
    return findings


# Media: Janus and the address it offers --------------------------------------------------------


def _janus_secret(settings: Settings) -> str | None:
    try:
        text = (settings.data_dir / "janus" / "janus.jcfg").read_text()
    except OSError:
        return None
    match = re.search(r'api_secret = "([^"]+)"', text)
    return match.group(1) if match else None


async def check_janus(ctx: Context) -> list[Finding]:
    """The managed Janus answers its API, and offers an address phones can reach."""
    settings = ctx.settings
    if settings.media != "managed":
        return [ok("media", f"MITALK_MEDIA={settings.media}: this node serves no audio")]
    findings = []
    secret = _janus_secret(settings)
    url = f"http://127.0.0.1:{settings.janus_api_port}/janus"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT, trust_env=False) as http:
            answer = (
                await http.post(
                    url,
                    json={
                        "janus": "info",
                        "transaction": secrets.token_hex(6),
                        "apisecret": secret,
                    },
                )
            ).json()
        if answer.get("janus") != "server_info":
            raise ValueError(str(answer.get("error", answer))[:200])
        findings.append(ok("Janus", f"Janus {answer.get('version_string', '?')} answers on {url}"))
    except (httpx.HTTPError, ValueError) as exc:
        findings.append(
            fail(
                "Janus",
                f"Janus does not answer on {url}: {exc}",
                "start `mitalk serve`; see janus/janus.log in the data dir",
            )
        )
    findings.extend(_media_address(ctx))
    return findings


def _media_address(ctx: Context) -> list[Finding]:
    settings = ctx.settings
    try:
        interface = pick_media_interface(settings.media_interface)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return [
            fail(
                "media address",
                f"no media interface: {exc}",
                "set MITALK_MEDIA_INTERFACE to the interface of the public address",
            )
        ]
    address = interface_address(interface)
    public_ip = settings.public_ip
    if public_ip is not None:
        text = ""
        try:
            text = (settings.data_dir / "janus" / "janus.jcfg").read_text()
        except OSError:
            pass
        if f'nat_1_1_mapping = "{public_ip}"' in text:
            return [
                ok(
                    "media address",
                    f"Janus offers {public_ip} "
                    f"(MITALK_PUBLIC_IP; interface {interface} has {address})",
                )
            ]
        return [
            fail(
                "media address",
                f"MITALK_PUBLIC_IP={public_ip}, but the running Janus config does not map to it",
                "restart `mitalk serve`",
            )
        ]
    if address is None:
        return [
            fail(
                "media address",
                f"interface {interface} has no IPv4 address",
                "set MITALK_MEDIA_INTERFACE",
            )
        ]
    if _is_public(address):
        return [ok("media address", f"Janus offers {address} ({interface})")]
    seen = [a for a in ctx.public_addresses if _is_public(a) and a not in local_addresses()]
    if seen:
        fix = (
            f"set MITALK_PUBLIC_IP={seen[0]} (this machine sits behind 1:1 NAT: "
            f"{settings.public_host} resolves to it) and restart"
        )
    else:
        fix = (
            "set MITALK_PUBLIC_IP to the public address of this machine (behind 1:1 NAT), or "
            "MITALK_MEDIA_INTERFACE to the interface that has it"
        )
    return [
        fail(
            "media address",
            f"Janus offers {address} ({interface}), a private address phones on the internet "
            "cannot reach",
            fix,
        )
    ]


# TURN ------------------------------------------------------------------------------------------

_STUN_BINDING = 0x0001
_STUN_MAGIC = 0x2112A442


def _stun_request() -> tuple[bytes, bytes]:
    transaction = os.urandom(12)
    return struct.pack("!HHI", _STUN_BINDING, 0, _STUN_MAGIC) + transaction, transaction


def _stun_answered(reply: bytes, transaction: bytes) -> bool:
    if len(reply) < 20:
        return False
    kind, _, magic = struct.unpack("!HHI", reply[:8])
    return kind in (0x0101, 0x0111) and magic == _STUN_MAGIC and reply[8:20] == transaction


async def stun_udp(host: str, port: int) -> bool:
    """Whether a STUN binding request over UDP gets its answer."""
    loop = asyncio.get_running_loop()
    request, transaction = _stun_request()
    answered: asyncio.Future[bool] = loop.create_future()

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
            if not answered.done() and _stun_answered(data, transaction):
                answered.set_result(True)

    transport, _ = await loop.create_datagram_endpoint(Protocol, remote_addr=(host, port))
    try:
        for _ in range(3):
            transport.sendto(request)
            try:
                return await asyncio.wait_for(asyncio.shield(answered), 1.0)
            except TimeoutError:
                continue
        return False
    finally:
        transport.close()


async def stun_stream(
    host: str, port: int, context: ssl.SSLContext | None, server_hostname: str | None = None
) -> bool:
    """Whether a STUN binding request over TCP (or TLS, given a context) gets its answer."""
    request, transaction = _stun_request()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            host, port, ssl=context, server_hostname=server_hostname if context else None
        ),
        TIMEOUT,
    )
    try:
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.readexactly(20), TIMEOUT)
        return _stun_answered(reply, transaction)
    finally:
        writer.close()


async def check_turn(ctx: Context) -> list[Finding]:
    """TURN is on and answers over UDP, TCP and TLS (on 443 for networks that pass only that)."""
    settings = ctx.settings
    turn = settings.turn
    if turn == "off":
        return [
            warn(
                "TURN",
                "no TURN server: people on networks that block UDP (offices, hotels, some "
                "carriers) will hear nothing",
                "set MITALK_TURN=managed (with MITALK_TURN_TLS_CERT/KEY for TURN over TLS), "
                "or external",
            )
        ]
    if turn == "external":
        return [
            ok(
                "TURN",
                f"external TURN: {', '.join(settings.turn_url_list)} (not checked from here)",
            )
        ]
    host = settings.turn_host or (
        str(settings.public_ip) if settings.public_ip else _media_ip(settings)
    )
    findings = []
    for what, probe in (
        ("UDP", stun_udp(host, settings.turn_port)),
        ("TCP", stun_stream(host, settings.turn_port, None)),
    ):
        try:
            answered = await probe
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            answered = False
            why = str(exc)
        else:
            why = "no STUN answer"
        if answered:
            findings.append(ok("TURN", f"answers over {what} on {host}:{settings.turn_port}"))
        else:
            findings.append(
                fail(
                    "TURN",
                    f"no answer over {what} on {host}:{settings.turn_port} ({why})",
                    "see coturn's log in the data dir; open the port in the firewall",
                )
            )
    if not settings.turn_tls_cert:
        findings.append(
            warn(
                "TURN over TLS",
                "off: networks that pass only TCP 443 cannot reach TURN",
                "set MITALK_TURN_TLS_CERT and MITALK_TURN_TLS_KEY (and port 443 on a second "
                "address)",
            )
        )
        return findings
    tls_host = settings.turn_tls_host or host
    try:
        answered = await stun_stream(
            tls_host, settings.turn_tls_port, _trust(ctx), server_hostname=tls_host
        )
        why = "no STUN answer"
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        answered, why = False, str(exc)
    if not answered:
        findings.append(
            fail(
                "TURN over TLS",
                f"no answer on {tls_host}:{settings.turn_tls_port} ({why})",
                "check MITALK_TURN_TLS_CERT/KEY and coturn's log",
            )
        )
    elif settings.turn_tls_port != 443:
        findings.append(
            warn(
                "TURN over TLS",
                f"answers on {tls_host}:{settings.turn_tls_port}, but strict office networks "
                "pass only TCP 443",
                "give TURN over TLS port 443 on a second address: MITALK_TURN_TLS_HOST=<it>, "
                "MITALK_TURN_TLS_PORT=443",
            )
        )
    else:
        findings.append(ok("TURN over TLS", f"answers on {tls_host}:443"))
    return findings


def _media_ip(settings: Settings) -> str:
    try:
        return interface_address(pick_media_interface(settings.media_interface)) or "127.0.0.1"
    except Exception:  # noqa: BLE001 - no interface: loopback is where a local coturn would be
        return "127.0.0.1"


# Clock, database, Redis ---------------------------------------------------------------------------


class _Timex(ctypes.Structure):
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("reserved", ctypes.c_int * 11),
    ]


_TIME_ERROR = 5


def kernel_clock_synchronized() -> bool | None:
    """Whether the kernel says an NTP client keeps the clock in sync (None: cannot tell)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return bool(state != _TIME_ERROR)


async def check_clock_and_stores(ctx: Context) -> list[Finding]:
    """The clock is kept by NTP and agrees with the database's and Redis's; both reachable."""
    settings = ctx.settings
    findings = []
    synced = kernel_clock_synchronized()
    if synced is False:
        findings.append(
            warn(
                "clock",
                "the kernel says no NTP client keeps this clock in sync",
                "turn on time synchronisation (`timedatectl set-ntp true`, or install chrony): "
                "TURN credentials, sign-in codes and certificates depend on the time",
            )
        )
    elif synced:
        findings.append(ok("clock", "synchronized (NTP)"))
    if (
        settings.is_sqlite
        and not (settings.data_dir / "mitalk.db").exists()
        and not settings.database_url
    ):
        findings.append(
            fail(
                "database",
                f"no database at {settings.data_dir / 'mitalk.db'}",
                "check MITALK_DATA_DIR, or run `mitalk db upgrade` to create it",
            )
        )
        return findings + await _redis_findings(settings)
    db = Database(settings.resolved_database_url)
    try:
        started = time.time()
        async with db.engine.connect() as conn:
            if settings.is_sqlite:
                await conn.execute(text("SELECT 1"))
                server_now = None
            else:
                server_now = (
                    await conn.execute(text("SELECT extract(epoch from clock_timestamp())"))
                ).scalar_one()
        finished = time.time()
        current, head = await current_revision(db), head_revision()
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        findings.append(
            fail(
                "database",
                f"unreachable: {type(exc).__name__}: {str(exc)[:200]}",
                "check MITALK_DATABASE_URL and that the database server runs",
            )
        )
    else:
        where = "SQLite" if settings.is_sqlite else "PostgreSQL"
        if current != head:
            findings.append(
                fail(
                    "database",
                    f"{where}: schema at {current}, the code needs {head}",
                    "run `mitalk db upgrade` (or restart `mitalk serve`, which migrates)",
                )
            )
        else:
            findings.append(ok("database", f"{where} reachable, schema at {head}"))
        if server_now is not None:
            findings.append(_skew("database", float(server_now), started, finished))
    finally:
        await db.dispose()
    return findings + await _redis_findings(settings)


async def _redis_findings(settings: Settings) -> list[Finding]:
    findings: list[Finding] = []
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )
        try:
            started = time.time()
            seconds, micros = await redis.time()
            finished = time.time()
        except Exception as exc:  # noqa: BLE001
            findings.append(
                fail(
                    "Redis",
                    f"unreachable: {type(exc).__name__}: {exc}",
                    "check MITALK_REDIS_URL and that Redis runs",
                )
            )
        else:
            findings.append(ok("Redis", "reachable"))
            findings.append(_skew("Redis", seconds + micros / 1e6, started, finished))
        finally:
            await redis.aclose()
    return findings


def _skew(what: str, server_now: float, started: float, finished: float) -> Finding:
    skew = server_now - (started + finished) / 2
    if abs(skew) > MAX_CLOCK_SKEW_SECONDS + (finished - started) / 2:
        return fail(
            "clock",
            f"this machine's clock is {-skew:+.1f} s off the {what} server's",
            "synchronize both with NTP: claim windows, code expiries and TURN credentials "
            "compare times across machines",
        )
    return ok("clock", f"agrees with the {what} server's (within {abs(skew):.2f} s)")


CHECKS: tuple[Check, ...] = (
    check_public_url,
    check_certificate,
    check_https_answers,
    check_ports,
    check_janus,
    check_turn,
    check_clock_and_stores,
)


async def run_checks(settings: Settings, *, ca_file: Path | None = None) -> list[Finding]:
    """Every check, in order (later ones use what earlier ones learned)."""
    ctx = Context(settings=settings, ca_file=ca_file)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(await check(ctx))
    return findings


def render(findings: list[Finding]) -> str:
    """The findings as lines for people: status, check, what was seen, and the fix."""
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    lines = []
    for finding in findings:
        lines.append(f"{marks[finding.status]}  {finding.check:<14} {finding.detail}")
        if finding.fix:
            lines.append(f"{'':6}{'':<14} → {finding.fix}")
    failed = sum(f.status == "fail" for f in findings)
    warned = sum(f.status == "warn" for f in findings)
    lines.append(
        f"{failed} to fix, {warned} warning{'s' if warned != 1 else ''}, "
        f"{len(findings) - failed - warned} ok"
    )
    return "\n".join(lines)
