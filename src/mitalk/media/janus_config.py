"""Generate a locked-down configuration folder for a Janus the service starts itself.

The stock Debian configuration must never run (APIs on every interface, an unauthenticated
nanomsg transport, a well-known admin secret, sample rooms on fixed ports): see
shared/JANUS-NOTES.md. Everything here is deny-by-default: every plugin, transport, event
handler and logger that is not AudioBridge, Streaming or plain HTTP is disabled by file name.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import socket
import struct
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from mitalk.core.settings import Settings

JcfgValue = Union[str, int, bool, list[str], "dict[str, JcfgValue]"]

# What we keep; everything else found on disk (or known to exist) is disabled.
KEPT_PLUGINS = frozenset({"libjanus_audiobridge.so", "libjanus_streaming.so"})
KEPT_TRANSPORTS = frozenset({"libjanus_http.so"})

# Known modules of Janus 1.1.x, disabled even when the library folder cannot be scanned, so a
# build with a different layout still gets no stray transport (nanomsg has no auth at all).
_KNOWN_PLUGINS = frozenset(
    f"libjanus_{name}.so"
    for name in (
        "audiobridge",
        "streaming",
        "echotest",
        "videocall",
        "videoroom",
        "sip",
        "nosip",
        "recordplay",
        "voicemail",
        "textroom",
        "duktape",
        "lua",
    )
)
_KNOWN_TRANSPORTS = frozenset(
    f"libjanus_{name}.so"
    for name in ("http", "websockets", "nanomsg", "mqtt", "rabbitmq", "pfunix")
)
_KNOWN_EVENT_HANDLERS = frozenset(
    f"libjanus_{name}.so"
    for name in ("gelfevh", "mqttevh", "nanomsgevh", "rabbitmqevh", "sampleevh", "wsevh")
)
_KNOWN_LOGGERS = frozenset({"libjanus_jsonlog.so"})

# If janus.jcfg ever fails to parse, Janus carries on with its built-in defaults (no API
# secret, every module in the default folders): seen here with a truncated file. These files
# keep the other transports switched off even then, and the supervisor refuses to use a Janus
# whose `info` does not match (see lockdown_problems).
_TRANSPORTS_OFF: dict[str, dict[str, dict[str, JcfgValue]]] = {
    "janus.transport.websockets.jcfg": {
        "general": {"ws": False, "wss": False},
        "admin": {"admin_ws": False, "admin_wss": False},
    },
    **{
        f"janus.transport.{name}.jcfg": {
            "general": {"enabled": False},
            "admin": {"admin_enabled": False},
        }
        for name in ("nanomsg", "mqtt", "rabbitmq", "pfunix")
    },
}

EXPECTED_PLUGINS = frozenset({"janus.plugin.audiobridge", "janus.plugin.streaming"})
EXPECTED_TRANSPORTS = frozenset({"janus.transport.http"})

_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8
_SIOCGIFFLAGS = 0x8913
_SIOCGIFADDR = 0x8915


@dataclass(frozen=True)
class JanusConfig:
    """Where a generated configuration lives and the secrets a client needs to use it."""

    folder: Path
    api_url: str
    api_secret: str
    admin_secret: str
    audiobridge_admin_key: str
    streaming_admin_key: str
    media_interface: str
    session_timeout: int
    api_port: int
    rtp_port_range: str


@dataclass(frozen=True)
class PortRanges:
    """Disjoint UDP port ranges: ICE (core), Streaming mountpoints, AudioBridge plain RTP."""

    core: tuple[int, int]
    streaming: tuple[int, int]
    audiobridge: tuple[int, int]


def split_port_range(port_range: str) -> PortRanges:
    """Split ``"LOW-HIGH"`` into disjoint core (80 %), Streaming and AudioBridge ranges."""
    low_text, _, high_text = port_range.partition("-")
    low, high = int(low_text), int(high_text)
    if not 1024 <= low < high <= 65535 or high - low < 100:
        raise ValueError(f"RTP port range {port_range!r} must be inside 1024-65535, 100+ ports")
    # Overlapping ranges make Janus fail to bind at random under load, hence disjoint slices.
    # ICE needs one port per peer connection; mountpoints need one or two each; AudioBridge
    # only binds for plain-RTP participants, which the service does not use today.
    span = high - low + 1
    core_end = low + span * 8 // 10 - 1
    streaming_end = core_end + span // 10
    return PortRanges(
        core=(low, core_end),
        streaming=(core_end + 1, streaming_end),
        audiobridge=(streaming_end + 1, high),
    )


def _port_span(ports: tuple[int, int]) -> str:
    return f"{ports[0]}-{ports[1]}"


def _interface_flags(name: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH14x", name.encode()[:15], 0)
        reply = fcntl.ioctl(probe.fileno(), _SIOCGIFFLAGS, request)
    return int(struct.unpack("16sH14x", reply)[1])


def interface_address(name: str) -> str | None:
    """The (primary) IPv4 address of a network interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("256s", name.encode()[:15])
        try:
            reply = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
        except OSError:
            return None
    return socket.inet_ntoa(reply[20:24])


def _default_route_interface() -> str | None:
    # /proc/thread-self/net follows the calling thread's network namespace; /sys/class/net
    # would show the namespace sysfs was mounted in, which is wrong inside `setns` tests.
    try:
        lines = Path("/proc/thread-self/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
            return fields[0]
    return None


def pick_media_interface(configured: str | None = None) -> str:
    """The interface Janus offers media on: the setting, else the default route's, else the 1st."""
    if configured:
        return configured
    by_route = _default_route_interface()
    if by_route:
        return by_route
    for _, name in socket.if_nameindex():
        flags = _interface_flags(name)
        if flags & _IFF_UP and not flags & _IFF_LOOPBACK:
            return name
    raise RuntimeError("no non-loopback network interface is up: Janus cannot offer media")


def find_janus_lib_folder() -> Path | None:
    """The folder holding Janus's plugins/ and transports/, if it is in a usual place."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    candidates = [
        Path("/usr/lib") / multiarch / "janus",
        Path("/usr/lib/janus"),
        Path("/usr/local/lib/janus"),
        Path("/opt/janus/lib/janus"),
    ]
    for candidate in candidates:
        if (candidate / "plugins").is_dir() and (candidate / "transports").is_dir():
            return candidate
    return None


def _to_disable(folder: Path | None, known: frozenset[str], kept: frozenset[str]) -> str:
    found = {p.name for p in folder.glob("libjanus_*.so")} if folder and folder.is_dir() else set()
    return ",".join(sorted((found | known) - kept))


def _jcfg_value(value: JcfgValue, indent: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_jcfg_value(item, indent) for item in value) + "]"
    inner = indent + "\t"
    body = "".join(f"{inner}{key} = {_jcfg_value(item, inner)}\n" for key, item in value.items())
    return "{\n" + body + indent + "}"


def render_jcfg(sections: dict[str, dict[str, JcfgValue]]) -> str:
    """Render nested dicts in Janus's libconfig-style ``.jcfg`` syntax."""
    return "".join(f"{name}: {_jcfg_value(body, '')}\n" for name, body in sections.items())


def _write_private(path: Path, text: str) -> None:
    # The files hold the API secret and admin keys: owner-only from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def write_janus_config(
    folder: Path,
    *,
    api_port: int,
    rtp_port_range: str,
    media_interface: str,
    session_timeout: int = 60,
    debug_level: int = 4,
    lib_folder: Path | None = None,
    event_loops: int = 2,
    public_ip: str | None = None,
) -> JanusConfig:
    """Write janus.jcfg, the AudioBridge, Streaming and HTTP configs with fresh secrets.

    ``event_loops``: Janus's ``general.event_loops``, the number of shared media threads
    (0 = Janus's default, a thread and GLib loop per handle, i.e. per listener).
    ``public_ip``: the host sits behind 1:1 NAT with this public address (MITALK_PUBLIC_IP).
    """
    if event_loops < 0:
        raise ValueError(f"event_loops must be 0 or more, not {event_loops}")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    # Remove anything else in the folder: Janus reads every plugin config it finds there.
    for stale in folder.glob("*.jcfg"):
        stale.unlink()
    lib_folder = lib_folder or find_janus_lib_folder()
    ranges = split_port_range(rtp_port_range)
    config = JanusConfig(
        folder=folder,
        api_url=f"http://127.0.0.1:{api_port}/janus",
        api_secret=secrets.token_urlsafe(24),
        admin_secret=secrets.token_urlsafe(24),
        audiobridge_admin_key=secrets.token_urlsafe(24),
        streaming_admin_key=secrets.token_urlsafe(24),
        media_interface=media_interface,
        session_timeout=session_timeout,
        api_port=api_port,
        rtp_port_range=rtp_port_range,
    )

    general: dict[str, JcfgValue] = {
        "debug_level": debug_level,
        "debug_timestamps": True,
        "debug_colors": False,
        "log_to_stdout": True,
        "api_secret": config.api_secret,
        "admin_secret": config.admin_secret,
        "session_timeout": session_timeout,
        "server_name": "mitalk",
        "hide_dependencies": True,
        # A fixed pool of media threads shared by all handles instead of one thread (and GLib
        # loop) per handle, i.e. per listener. Measured with bench/audience.py (2-core VM,
        # Janus 1.1.2, 10-50 Streaming viewers): Janus used 0.27-0.38 % of a core per
        # listener with a thread each, 0.13-0.21 % with 2 loops (target <= 0.25 %; 0.167 and
        # 0.169 vs 0.256 with 0 in the 2026-11-21 re-runs), no loss either way, and
        # bench/latency.py's mouth-to-ear and join figures stayed within their run-to-run
        # spread (p50 144.8 ms vs 139-147 ms before; through the server 126.7 vs 133-140 ms).
        "event_loops": event_loops,
    }
    if lib_folder is not None:
        general |= {
            "plugins_folder": str(lib_folder / "plugins"),
            "transports_folder": str(lib_folder / "transports"),
            "events_folder": str(lib_folder / "events"),
            "loggers_folder": str(lib_folder / "loggers"),
        }
    nat: dict[str, JcfgValue] = {
        "ice_enforce_list": media_interface,
        "ignore_mdns": True,
        "nice_debug": False,
    }
    if public_ip:
        # Behind 1:1 NAT: every host candidate carries the public address instead of the
        # interface's private one (keep_private_host false: a private address is of no use
        # to clients on the internet and tells them about the provider's network). ICE Lite
        # stays off, as Janus asks for NAT'd hosts. ICE-TCP stays off too: Janus 1.1.2's
        # libnice only does it well with ICE Lite; TURN over TCP/TLS covers UDP-less networks.
        nat |= {"nat_1_1_mapping": public_ip, "keep_private_host": False}
    core: dict[str, dict[str, JcfgValue]] = {
        "general": general,
        "media": {"rtp_port_range": _port_span(ranges.core), "ipv6": False},
        # No stun_server on purpose: a private test path needs none, and production sets
        # nat_1_1_mapping / TURN explicitly instead of asking a third party for its address.
        "nat": nat,
        "plugins": {
            "disable": _to_disable(
                lib_folder and lib_folder / "plugins", _KNOWN_PLUGINS, KEPT_PLUGINS
            )
        },
        "transports": {
            "disable": _to_disable(
                lib_folder and lib_folder / "transports", _KNOWN_TRANSPORTS, KEPT_TRANSPORTS
            )
        },
        "loggers": {
            "disable": _to_disable(
                lib_folder and lib_folder / "loggers", _KNOWN_LOGGERS, frozenset()
            )
        },
        "events": {
            "broadcast": False,
            "disable": _to_disable(
                lib_folder and lib_folder / "events", _KNOWN_EVENT_HANDLERS, frozenset()
            ),
        },
    }
    audiobridge: dict[str, dict[str, JcfgValue]] = {
        "general": {
            "admin_key": config.audiobridge_admin_key,
            # Without the lock, anyone with a handle could forward a room's mix anywhere.
            "lock_rtp_forward": True,
            "lock_play_file": True,
            "rtp_port_range": _port_span(ranges.audiobridge),
            "events": False,
        }
    }
    streaming: dict[str, dict[str, JcfgValue]] = {
        "general": {
            "admin_key": config.streaming_admin_key,
            "rtp_port_range": _port_span(ranges.streaming),
            "events": False,
        }
    }
    http: dict[str, dict[str, JcfgValue]] = {
        "general": {
            "json": "plain",
            "base_path": "/janus",
            "http": True,
            "port": api_port,
            "https": False,
            "ip": "127.0.0.1",
            "acl": "127.0.0.1",
        },
        "admin": {"admin_http": False, "admin_https": False},
        "cors": {},
        "certificates": {},
    }
    _write_private(folder / "janus.jcfg", render_jcfg(core))
    _write_private(folder / "janus.plugin.audiobridge.jcfg", render_jcfg(audiobridge))
    _write_private(folder / "janus.plugin.streaming.jcfg", render_jcfg(streaming))
    _write_private(folder / "janus.transport.http.jcfg", render_jcfg(http))
    for name, sections in _TRANSPORTS_OFF.items():
        _write_private(folder / name, render_jcfg(sections))
    return config


def lockdown_problems(info: dict[str, object]) -> list[str]:
    """What in a running Janus's ``info`` shows it is not running a config generated here."""
    problems = []
    if info.get("api_secret") is not True:
        problems.append("the API accepts requests without a secret")
    for what, expected in (("plugins", EXPECTED_PLUGINS), ("transports", EXPECTED_TRANSPORTS)):
        loaded = info.get(what)
        names = set(loaded) if isinstance(loaded, dict) else set()
        if names != expected:
            problems.append(f"{what} loaded: {sorted(names)}, expected {sorted(expected)}")
    if info.get("events") or info.get("loggers"):
        problems.append("event handlers or loggers are loaded")
    return problems


def janus_config_from_settings(
    settings: Settings, *, api_port: int | None = None, rtp_port_range: str | None = None
) -> JanusConfig:
    """Write the managed Janus's config in ``<data_dir>/janus`` (default ports: the settings')."""
    return write_janus_config(
        settings.ensure_data_dir() / "janus",
        api_port=api_port or settings.janus_api_port,
        rtp_port_range=rtp_port_range or settings.janus_rtp_port_range,
        media_interface=pick_media_interface(settings.media_interface),
        public_ip=str(settings.public_ip) if settings.public_ip else None,
    )
