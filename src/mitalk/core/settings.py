"""All configuration in one place: environment variables prefixed ``MITALK_`` and ``.env``."""

from __future__ import annotations

import os
import secrets
from functools import cached_property, lru_cache
from ipaddress import IPv4Address
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings; every field maps to ``MITALK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MITALK_", env_file=".env", extra="ignore")

    # Secrets are SecretStr (shown as '**********' in any repr, log line or traceback); URLs
    # that may carry a password are left out of the settings' repr.
    data_dir: Path = Path("./var")
    database_url: str | None = Field(default=None, repr=False)
    redis_url: str | None = Field(default=None, repr=False)
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key for hashing sign-in codes; generated into the data dir when unset.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"

    # Slow clients (docs/security.md): a request's head (request line and headers) must arrive
    # within this many seconds of its first byte (or of the connection), its body within the
    # next; the avatar upload (up to 5 MB) may take longer.
    request_header_timeout_seconds: float = Field(default=10, gt=0)
    request_body_timeout_seconds: float = Field(default=30, gt=0)
    upload_timeout_seconds: float = Field(default=120, gt=0)

    # Phone numbers written without "+" are read in this region (ISO 3166 code), if set.
    default_region: str | None = None

    # Sign-in codes.
    sms_backend: Literal["console", "twilio"] = "console"
    sms_twilio_account_sid: str | None = None
    sms_twilio_auth_token: SecretStr | None = None
    sms_twilio_from: str | None = None
    sms_twilio_api_base: str = "https://api.twilio.com/2010-04-01"
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5  # per code: its requester's tries, and apart those of others
    # Wrong guesses per number per day; past it each new code gets one try (accounts/service).
    code_guesses_per_phone_per_day: int = 30
    code_resend_seconds: int = 30
    # The text-message budget (docs/operating.md): each counts only messages actually sent;
    # a refused request counts against nothing but its network's requests. "Address": the
    # client's network, an IPv6 /64 or an IPv4 address (core.ratelimit.network_of).
    codes_per_phone_per_hour: int = 5
    codes_per_phone_per_day: int = 15
    codes_per_address_per_hour: int = 20
    sms_per_prefix_per_hour: int = 30  # a block of 1,000 numbers: E.164 minus its last 3 digits
    sms_per_country_per_hour: int = 5_000
    sms_per_hour: int = 10_000  # every sign-in text of the deployment
    code_requests_per_address_per_hour: int = 60  # requests, sent or refused
    verifies_per_address_per_hour: int = 60
    session_ttl_days: int = 30

    # Access.
    default_invites: int = 5
    # Invites sent per member per 24 hours, revoked ones included (an invite and a revoke gave
    # the invite back, so without a count they tested numbers for free).
    invites_per_day: int = Field(default=10, ge=1)
    # Claims of passes from one network address (counted over both HTTP and the account
    # socket, repeats included) per window of ``claim_limit_seconds``; past it: 429 with
    # Retry-After. Generous: one carrier-grade NAT address can front many real people.
    claims_per_address: int = 300
    claim_limit_seconds: int = 10
    # Bearer token of the operators' JSON endpoints (/api/v1/admin/…); unset turns them off.
    operator_token: SecretStr | None = None

    # Background work in the serving process (the text-message worker); off runs API only.
    run_workers: bool = True

    # Uploaded contacts (letting waitlisters in): uploads per account per 24 hours, and numbers
    # new to the account's list per 30 days (a list holds at most 1,000 numbers, see
    # network.schemas.MAX_CONTACTS). Together they keep the list from mapping numbers to people.
    contacts_uploads_per_day: int = Field(default=5, ge=1)
    contacts_new_per_30_days: int = Field(default=3000, ge=1)

    # Rooms and their real-time stream.
    room_max_participants: int = 5000
    room_max_on_stage: int = 50  # moderators and speakers together
    room_max_live_per_host: int = 3
    # Scheduled rooms: at most this many waiting per host, at most this far ahead; reminders
    # this long before the start; one not started this long after its time lapses (ends).
    room_max_scheduled_per_host: int = 10
    room_schedule_max_days: int = 90
    room_reminder_minutes: int = 10
    room_schedule_lapse_hours: int = 2
    # Text the RSVP'd people too when a scheduled room goes live (in-app always).
    room_start_sms: bool = False
    room_event_buffer: int = 500  # events kept per room for clients that reconnect
    # Sockets one account may hold at once, over every node; one more closes its oldest
    # (realtime/sockets.py).
    room_sockets_per_account: int = Field(default=10, ge=1)
    account_sockets_per_account: int = Field(default=5, ge=1)
    # How often each node looks up whether its sockets' sessions still exist (for sessions
    # ended where no event reached it, e.g. `mitalk admin sign-out` without Redis).
    socket_sweep_seconds: float = Field(default=60.0, gt=0)
    realtime_gap_timeout_seconds: float = 2.0  # wait this long for a missing event, then resync
    # Room actions fan out to everyone in the room (joins, hands, the stage, mutes, removals,
    # invites): at most this many per account per minute, across rooms; leaving always works.
    room_actions_per_minute: int = Field(default=30, ge=1)
    # Freeze what survives each full garbage collection (core/gc_freeze.py), so that a node
    # holding thousands of sockets does not stop for seconds walking them; `mitalk serve` turns
    # it on, tests and embedding code leave it off.
    gc_freeze: bool = False

    # The built web client (web/dist) served at "/"; default: the checkout's web/dist.
    web_dir: Path | None = None
    # Sessions of the web client live in HttpOnly cookies; "auto": Secure when the request is
    # https or MITALK_PUBLIC_URL is.
    cookie_secure: Literal["auto", "always", "never"] = "auto"

    # On the internet (docs/deploy.md). The address people use, e.g. https://talk.example.com;
    # https makes the service answer over TLS (HTTP redirects, HSTS, Secure cookies, wss).
    public_url: str | None = None
    # Who terminates TLS for an https public URL: "managed": `mitalk serve` runs and supervises
    # Caddy in front of the API (certificates from an ACME CA, from tls_cert/tls_key, or from
    # Caddy's own local CA); "external": a proxy of the operator's forwards to host:port.
    tls: Literal["managed", "external"] = "managed"
    # The operator's own certificate chain and key (PEM files); unset: Caddy obtains one.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Where Caddy gets certificates when no files are given: "auto" (an ACME CA for a public
    # name, Caddy's local CA for localhost, IP addresses and .local/.home.arpa/.internal names),
    # "acme", or "internal" (the local CA: install its root on the devices, docs/deploy.md).
    tls_issuer: Literal["auto", "acme", "internal"] = "auto"
    acme_email: str | None = None
    acme_ca: str | None = None  # ACME directory URL (default: Caddy's, Let's Encrypt then ZeroSSL)
    acme_ca_root: Path | None = None  # PEM root of a private ACME CA (acme_ca's TLS)
    # The managed Caddy listens on these ports of https_address (unset: every address).
    https_address: str | None = None
    https_port: int = Field(default=443, ge=1, le=65535)
    http_port: int = Field(default=80, ge=1, le=65535)
    hsts_max_age: int = Field(default=31_536_000, ge=0)  # seconds; 0 sends no HSTS header
    caddy_binary: str = "caddy"

    # Media (Janus). "managed": the app starts, supervises and uses a local Janus (the
    # embedded default); "off": no media at all (API-only nodes; media calls answer 503).
    media: Literal["managed", "off"] = "managed"
    # The managed Janus offers media on this interface; default: the interface
    # of the default route, else the first non-loopback interface that is up.
    media_interface: str | None = None
    janus_binary: str = "janus"
    janus_api_port: int = 8188
    janus_rtp_port_range: str = "20000-40000"
    # The address media is offered on when this host sits behind 1:1 NAT (a cloud machine
    # whose own interface has a private address): Janus's nat_1_1_mapping, coturn's
    # external address. Unset: the media interface's own address is what clients reach.
    public_ip: IPv4Address | None = None

    # TURN (docs/operating.md): relays audio for clients whose networks block a direct path
    # (strict NATs, office firewalls that pass only TCP 443). "off": no TURN, clients get no
    # ICE servers; "managed": `mitalk serve` runs and supervises a coturn; "external": a TURN
    # server of the operator's, at turn_urls, sharing turn_secret (coturn's use-auth-secret).
    turn: Literal["off", "managed", "external"] = "off"
    turn_urls: str | None = None  # external: comma-separated turn:/turns: URLs
    turn_secret: SecretStr | None = None  # managed: generated into the data dir when unset
    # How clients reach the managed TURN server: a host name or address (default: public_ip,
    # else the media interface's address); its TLS listener may have a name of its own (the
    # certificate's), e.g. on a second address where it can take port 443.
    turn_host: str | None = None
    turn_tls_host: str | None = None
    turn_port: int = Field(default=3478, ge=1, le=65535)  # UDP and TCP
    turn_tls_port: int = Field(default=5349, ge=1, le=65535)
    # Certificate chain and key for TURN over TLS (PEM); without them no TLS listener.
    turn_tls_cert: Path | None = None
    turn_tls_key: Path | None = None
    # Local addresses the managed coturn listens on (comma-separated; unset: every address).
    turn_listen: str | None = None
    turn_relay_port_range: str = "49152-65535"
    # Credentials are valid this long after they are handed out (a connection must start
    # within it; established allocations keep refreshing).
    turn_ttl_seconds: int = Field(default=600, ge=60, le=86_400)
    # Limits of the managed coturn: allocations at once per account and in total, and the
    # bandwidth of one allocation and of all (bytes per second; 0 = unlimited).
    turn_user_quota: int = Field(default=12, ge=1)
    turn_total_quota: int = Field(default=2000, ge=1)
    turn_max_bps: int = Field(default=64_000, ge=0)
    turn_total_bps: int = Field(default=0, ge=0)
    turn_binary: str = "turnserver"

    # Beyond one machine (docs/scale.md). "all": one process does everything (the embedded
    # default, unchanged). "api": an API node; needs PostgreSQL and Redis, runs no Janus and
    # places rooms on the media nodes it finds registered in Redis. "media": a media node; runs
    # Janus and the agent API nodes talk to (on node_address:media_agent_port), and registers
    # itself in Redis with a heartbeat.
    node_role: Literal["all", "api", "media"] = "all"
    # Where other nodes reach this one (a private address): media nodes offer it to API
    # nodes for their agent and to stage nodes for the forwarded mix.
    node_address: str | None = None
    # A node's name in the registry; default: the host name and the address.
    node_id: str | None = None
    media_agent_port: int = 8190
    # What a media node says it can hold (placement keeps every node under these).
    node_max_viewers: int = 500
    node_max_seats: int = 100
    # A room's listeners per edge before another edge (media node) is added for it.
    edge_viewers: int = 400
    # Edges a room's stage node forwards its mix to itself; further edges are fed by an edge
    # relaying what it receives (a second hop), each relay feeding at most this many.
    stage_forwards: int = Field(default=16, ge=1, le=256)

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Absolute once, here: child processes (Janus runs from its own folder) and later
        # changes of the working directory must see the same place.
        return value.expanduser().resolve()

    @field_validator("turn_relay_port_range")
    @classmethod
    def _port_range(cls, value: str) -> str:
        low, _, high = value.partition("-")
        if not (low.isdigit() and high.isdigit() and 1024 <= int(low) < int(high) <= 65535):
            raise ValueError("a port range looks like 49152-65535 (inside 1024-65535)")
        return value

    @property
    def turn_url_list(self) -> list[str]:
        """MITALK_TURN_URLS as a list (external TURN)."""
        return [url.strip() for url in (self.turn_urls or "").split(",") if url.strip()]

    @cached_property
    def resolved_turn_secret(self) -> str:
        """The TURN shared secret: from settings, else a random one kept in ``turn.secret``."""
        if self.turn_secret:
            return self.turn_secret.get_secret_value()
        path = self.ensure_data_dir() / "turn.secret"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip()

    @field_validator("public_url")
    @classmethod
    def _public_url_is_an_origin(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("MITALK_PUBLIC_URL must look like https://talk.example.com")
        if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
            raise ValueError("MITALK_PUBLIC_URL is an origin only: scheme, host and port, no path")
        return f"{parts.scheme}://{parts.netloc.lower()}"

    @property
    def https(self) -> bool:
        """Whether people reach this deployment over https (MITALK_PUBLIC_URL)."""
        return self.public_url is not None and self.public_url.startswith("https://")

    @property
    def public_host(self) -> str | None:
        """The host name (or address) of the public URL."""
        return urlsplit(self.public_url).hostname if self.public_url else None

    @property
    def managed_tls(self) -> bool:
        """Whether `mitalk serve` runs Caddy in front (https public URL, MITALK_TLS=managed)."""
        return self.https and self.tls == "managed"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'mitalk.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def ensure_data_dir(self) -> Path:
        """Create the data dir, private to its owner (0700), and return it.

        It holds the database, the secret key and the SMS outbox with its sign-in codes: an
        existing one that others could read or enter is made private too.
        """
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = self.data_dir.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            self.data_dir.chmod(0o700)
        return self.data_dir

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The hashing key: from settings, else a random key kept in ``secret.key`` (read once)."""
        if self.secret_key:
            return self.secret_key.get_secret_value().encode()
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
