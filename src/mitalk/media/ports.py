"""The managed Janus's ports, checked against what this host already runs, or picked free.

Two settings: ``MITALK_JANUS_API_PORT`` (TCP on 127.0.0.1) and ``MITALK_JANUS_RTP_PORT_RANGE``
(UDP on the media interface). Set explicitly, a port in use is an error that names it and the
setting; left at their defaults, the service picks free ones and says which, so a second
instance on one host (a staging copy, a developer's run beside a demo) just works.

What counts as "in use":

- the API port: anything listening on it (a real bind is tried);
- the RTP range: another Janus in this network namespace whose configured ranges overlap it
  (read from its configuration folder, as the command line names it). Other programs' passing
  UDP sockets in the range do not count: Janus and libnice skip a port they cannot bind, and
  the kernel hands out ports from most of the default range for outgoing traffic anyway.

A Janus whose configuration folder is ours is a leftover of an earlier run of this service
(killed with SIGKILL, say): it holds stale secrets and our ports, and is killed, not avoided.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from mitalk.core.ports import (
    Holder,
    PortTaken,
    ProcessInfo,
    ephemeral_port_range,
    holder_of,
    in_use_by,
    overlaps,
    processes,
    tcp_port_free,
    udp_ports_in_use,
)
from mitalk.core.settings import Settings

log = logging.getLogger(__name__)

API_PORT_SETTING = "MITALK_JANUS_API_PORT"
RTP_RANGE_SETTING = "MITALK_JANUS_RTP_PORT_RANGE"
JANUS_PROCESS_NAMES = ("janus",)

# A picked range: 1,600 ICE ports (one per peer connection) and 200 each for Streaming and
# AudioBridge (see janus_config.split_port_range); plenty for a second instance on one host.
PICKED_RANGE_SIZE = 2000
_PICK_RANGE_FLOOR = 10000  # below this sit many well-known services
_API_PORT_TRIES = 100

_RTP_RANGE = re.compile(r'^\s*rtp_port_range\s*=\s*"?\s*(\d+)\s*-\s*(\d+)', re.MULTILINE)
_HTTP_PORT = re.compile(r"^\s*port\s*=\s*(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class OtherJanus:
    """A Janus running on this host (in our namespace) that is not ours, and what it claims."""

    holder: Holder
    folder: Path
    api_port: int | None
    rtp_ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class JanusPorts:
    """The ports the managed Janus will use."""

    api_port: int
    rtp_port_range: str

    @property
    def rtp_bounds(self) -> tuple[int, int]:
        """The RTP range as two ints."""
        return parse_range(self.rtp_port_range)


def parse_range(text: str) -> tuple[int, int]:
    """``"20000-40000"`` as ``(20000, 40000)``."""
    low, _, high = text.partition("-")
    return int(low), int(high)


def config_folder_of(process: ProcessInfo) -> Path:
    """The config folder a Janus process reads (``-F``, else ``-C``'s folder, else /etc/janus)."""
    folder = process.option("-F", "--configs-folder")
    if folder:
        return process.path(folder)
    config = process.option("-C", "--config")
    if config:
        return process.path(config).parent
    return Path("/etc/janus")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""  # another user's config (the service does not run as root): unknown


def _claims_of(process: ProcessInfo, folder: Path) -> OtherJanus:
    ranges = []
    for name in ("janus.jcfg", "janus.plugin.audiobridge.jcfg", "janus.plugin.streaming.jcfg"):
        for low, high in _RTP_RANGE.findall(_read(folder / name)):
            ranges.append((int(low), int(high)))
    port = _HTTP_PORT.search(_read(folder / "janus.transport.http.jcfg"))
    return OtherJanus(
        holder=Holder(process.pid, process.name),
        folder=folder,
        api_port=int(port.group(1)) if port else None,
        rtp_ranges=tuple(ranges),
    )


def other_januses(own_folder: Path) -> list[OtherJanus]:
    """Every Janus in our network namespace that does not read ``own_folder``."""
    own = own_folder.resolve()
    found = []
    for process in processes(JANUS_PROCESS_NAMES):
        folder = config_folder_of(process)
        if folder.resolve() != own:
            found.append(_claims_of(process, folder))
    return found


def kill_leftover_januses(own_folder: Path, *, wait: float = 5.0) -> list[int]:
    """Kill every Janus reading ``own_folder`` (left by an earlier run); return their pids."""
    own = own_folder.resolve()
    killed = []
    for process in processes(JANUS_PROCESS_NAMES, any_namespace=True):
        if config_folder_of(process).resolve() != own:
            continue
        log.warning("killing a janus (pid %d) left running by an earlier run", process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        killed.append(process.pid)
    deadline = time.monotonic() + wait
    while any(Path(f"/proc/{pid}").exists() for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.05)
    return killed


def check_api_port(port: int) -> None:
    """Raise PortTaken unless the Janus API port is free on 127.0.0.1."""
    if not tcp_port_free("127.0.0.1", port):
        holder = holder_of("tcp", port)
        raise PortTaken(
            f"the Janus API port {port} is {in_use_by(holder)}", API_PORT_SETTING, holder=holder
        )


def check_rtp_range(bounds: tuple[int, int], others: list[OtherJanus]) -> None:
    """Raise PortTaken if another Janus here is configured for ports in ``bounds``."""
    for other in others:
        if any(overlaps(bounds, claimed) for claimed in other.rtp_ranges):
            low = min(claimed[0] for claimed in other.rtp_ranges)
            high = max(claimed[1] for claimed in other.rtp_ranges)
            raise PortTaken(
                f"the Janus RTP ports {bounds[0]}-{bounds[1]} overlap the ports {low}-{high} of "
                f"janus pid {other.holder.pid} (configured in {other.folder})",
                RTP_RANGE_SETTING,
                holder=other.holder,
            )


def check_janus_ports(ports: JanusPorts, own_folder: Path) -> None:
    """Raise PortTaken if the API port or the RTP range is in use by something not ours."""
    check_api_port(ports.api_port)
    check_rtp_range(ports.rtp_bounds, other_januses(own_folder))


def _pick_api_port(start: int, others: list[OtherJanus]) -> int | None:
    claimed = {other.api_port for other in others}
    for port in range(start + 1, min(start + 1 + _API_PORT_TRIES, 65536)):
        if port not in claimed and tcp_port_free("127.0.0.1", port):
            return port
    return None


def _pick_rtp_range(
    size: int, others: list[OtherJanus], avoid: list[tuple[int, int]]
) -> tuple[int, int] | None:
    claimed = [r for other in others for r in other.rtp_ranges] + avoid
    ephemeral = ephemeral_port_range()
    blocks = [
        (low, low + size - 1) for low in range(_PICK_RANGE_FLOOR, 65536 - size + 1, size)
    ]
    # Blocks clear of the kernel's ports for outgoing traffic first: no random clashes there.
    blocks.sort(key=lambda block: overlaps(block, ephemeral))
    for block in blocks:
        if any(overlaps(block, r) for r in claimed):
            continue
        if not udp_ports_in_use(*block):
            return block
    return None


def resolve_janus_ports(settings: Settings, own_folder: Path) -> JanusPorts:
    """The ports for the managed Janus: explicit settings checked, defaults replaced if in use.

    Raises PortTaken for an explicit setting in use, or when no free port can be found.
    """
    wanted = JanusPorts(settings.janus_api_port, settings.janus_rtp_port_range)
    others = other_januses(own_folder)
    api_port = wanted.api_port
    try:
        check_api_port(api_port)
    except PortTaken as taken:
        if "janus_api_port" in settings.model_fields_set:
            raise
        picked = _pick_api_port(api_port, others)
        if picked is None:
            raise
        log.warning(
            "%s; using %d instead (set %s to choose)", taken.problem, picked, API_PORT_SETTING
        )
        api_port = picked
    rtp_range = wanted.rtp_port_range
    try:
        check_rtp_range(wanted.rtp_bounds, others)
    except PortTaken as taken:
        if "janus_rtp_port_range" in settings.model_fields_set:
            raise
        low, high = wanted.rtp_bounds
        # Our own managed coturn relays from its range: not there either.
        avoid = [parse_range(settings.turn_relay_port_range)] if settings.turn == "managed" else []
        block = _pick_rtp_range(min(high - low + 1, PICKED_RANGE_SIZE), others, avoid)
        if block is None:
            raise
        rtp_range = f"{block[0]}-{block[1]}"
        log.warning(
            "%s; using %s instead (set %s to choose)", taken.problem, rtp_range, RTP_RANGE_SETTING
        )
    return JanusPorts(api_port, rtp_range)
