"""A managed Caddy in front of the API when MITALK_PUBLIC_URL is https (MITALK_TLS=managed).

Why Caddy rather than TLS inside the ASGI server (measured and argued in bench/README.md and
docs/deploy.md): Caddy obtains and renews certificates from an ACME CA by itself, runs its own
local CA for LAN names, redirects plain HTTP to HTTPS, staples OCSP and speaks HTTP/2, all of it
kept by the Caddy project and shipped by Debian; uvicorn would need all of that written and
maintained here, for a cost per request that the benchmark shows Caddy does not exceed by much.

What is ours is only the configuration (a Caddyfile generated into the data dir) and the
supervision (like Janus's: a child process that dies with the service). The API keeps listening
on loopback; Caddy forwards to it with ``X-Forwarded-Proto: https``, which uvicorn trusts from
127.0.0.1 only, so the app sees https requests and wss sockets.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mitalk.core.http_protocol import HEAD_MAX_BYTES
from mitalk.core.settings import Settings
from mitalk.core.supervise import ChildSupervisor


@dataclass(frozen=True)
class CaddyPaths:
    """Where the managed Caddy keeps its config, certificates and log."""

    folder: Path

    @property
    def caddyfile(self) -> Path:
        return self.folder / "Caddyfile"

    @property
    def storage(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "caddy.log"

    @property
    def local_ca_root(self) -> Path:
        """The root certificate of Caddy's local CA (devices trust it for ``tls internal``)."""
        return self.storage / "pki" / "authorities" / "local" / "root.crt"


def caddy_paths(settings: Settings) -> CaddyPaths:
    """The managed Caddy's folder in the data dir."""
    return CaddyPaths(settings.data_dir / "caddy")


def https_port(settings: Settings) -> int:
    """The port Caddy serves https on: the public URL's own port, else 443."""
    port = urlsplit(settings.public_url or "").port
    return port if port is not None else settings.https_port


def _quote(value: str | Path) -> str:
    text = str(value)
    if any(c in text for c in '"\n\r{}') or not text:
        raise ValueError(f"not usable in a Caddyfile: {text!r}")
    return f'"{text}"'


def upstream(settings: Settings) -> str:
    """Where Caddy forwards to: the API's own listener, on loopback."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{settings.port}"


def _servers_block(settings: Settings) -> str:
    read_header = f"{settings.request_header_timeout_seconds:g}s"
    return (
        f"servers {{\n\t\ttimeouts {{\n\t\t\tread_header {read_header}\n\t\t}}\n"
        f"\t\tmax_header_size {HEAD_MAX_BYTES // 1024}KiB\n\t}}"
    )


def caddyfile(settings: Settings) -> str:
    """The Caddyfile for this deployment (only what differs from Caddy's defaults)."""
    if not settings.managed_tls or settings.public_host is None:
        raise ValueError("a managed Caddy needs an https MITALK_PUBLIC_URL and MITALK_TLS=managed")
    paths = caddy_paths(settings)
    options = [
        "admin off",  # reloads are restarts; no control port to protect
        "skip_install_trust",  # never touch the machine's trust store
        f"http_port {settings.http_port}",
        f"https_port {https_port(settings)}",
        f"storage file_system {{\n\t\troot {_quote(paths.storage)}\n\t}}",
        # The same head limits as the API's own (core/http_protocol.py): Caddy is what clients
        # reach, and it forwards a request only once its head is complete. Bodies stream
        # through to the API, whose deadlines and limits (core/bodies.py) apply.
        _servers_block(settings),
    ]
    if settings.acme_email:
        options.append(f"email {_quote(settings.acme_email)}")
    if settings.acme_ca:
        options.append(f"acme_ca {_quote(settings.acme_ca)}")
    if settings.acme_ca_root:
        options.append(f"acme_ca_root {_quote(settings.acme_ca_root)}")
    site: list[str] = []
    if settings.https_address:
        site.append(f"bind {settings.https_address}")
    if settings.tls_cert and settings.tls_key:
        site.append(f"tls {_quote(settings.tls_cert)} {_quote(settings.tls_key)}")
    elif settings.tls_issuer == "internal":
        site.append("tls internal")
    elif settings.tls_issuer == "acme":
        site.append("tls {\n\t\tissuer acme\n\t}")
    site.append(f"reverse_proxy {upstream(settings)}")
    host = settings.public_host
    address = f"[{host}]" if ":" in host else host
    lines = [
        "{",
        *(f"\t{o}" for o in options),
        "}",
        "",
        f"https://{address}:{https_port(settings)} {{",
    ]
    lines += [f"\t{line}" for line in site]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_caddy_config(settings: Settings) -> CaddyPaths:
    """Write the Caddyfile into the data dir (owner-only folder) and return the paths."""
    paths = caddy_paths(settings)
    paths.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths.storage.mkdir(mode=0o700, exist_ok=True)
    paths.caddyfile.write_text(caddyfile(settings))
    return paths


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True


def managed_caddy(settings: Settings) -> ChildSupervisor:
    """The supervisor of the Caddy ``mitalk serve`` runs in front of the API, config written."""
    paths = write_caddy_config(settings)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        # Caddy's own state (autosaved config, locks) stays in its folder, not in $HOME.
        "HOME": str(paths.folder),
        "XDG_DATA_HOME": str(paths.storage),
        "XDG_CONFIG_HOME": str(paths.folder / "config"),
    }
    probe_host = settings.https_address or "127.0.0.1"
    port = https_port(settings)
    return ChildSupervisor(
        "caddy",
        [settings.caddy_binary, "run", "--config", str(paths.caddyfile), "--adapter", "caddyfile"],
        log_path=paths.log,
        ready=lambda: _port_open(probe_host, port),
        env=env,
        cwd=paths.folder,
    )
