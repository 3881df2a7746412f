"""All configuration in one place: environment variables prefixed ``MITALK_`` and ``.env``."""

from __future__ import annotations

import secrets
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Deployment settings; every field maps to ``MITALK_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MITALK_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = Field(
        default=None,
        description="Key for hashing sign-in codes; generated into the data dir when unset.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_format: Literal["console", "json"] = "console"
    log_level: str = "info"

    # Phone numbers written without "+" are read in this region (ISO 3166 code), if set.
    default_region: str | None = None

    # Sign-in codes.
    sms_backend: Literal["console", "twilio"] = "console"
    sms_twilio_account_sid: str | None = None
    sms_twilio_auth_token: str | None = None
    sms_twilio_from: str | None = None
    sms_twilio_api_base: str = "https://api.twilio.com/2010-04-01"
    code_ttl_seconds: int = 300
    code_max_attempts: int = 5
    code_resend_seconds: int = 30
    codes_per_phone_per_hour: int = 5
    codes_per_address_per_hour: int = 20
    verifies_per_address_per_hour: int = 60
    session_ttl_days: int = 30

    # Access.
    default_invites: int = 5
    # Bearer token of the operators' JSON endpoints (/api/v1/admin/…); unset turns them off.
    operator_token: str | None = None

    # Background work in the serving process (the text-message worker); off runs API only.
    run_workers: bool = True

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
    realtime_gap_timeout_seconds: float = 2.0  # wait this long for a missing event, then resync

    # The built web client (web/dist) served at "/"; default: the checkout's web/dist.
    web_dir: Path | None = None
    # Sessions of the web client live in HttpOnly cookies; "auto": Secure when the request is https.
    cookie_secure: Literal["auto", "always", "never"] = "auto"

    # Media (Janus). "managed": the app starts, supervises and uses a local Janus (the
    # embedded default); "off": no media at all (API-only nodes; media calls answer 503).
    media: Literal["managed", "off"] = "managed"
    # The managed Janus offers media on this interface; default: the interface
    # of the default route, else the first non-loopback interface that is up.
    media_interface: str | None = None
    janus_binary: str = "janus"
    janus_api_port: int = 8188
    janus_rtp_port_range: str = "20000-40000"

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        # Absolute once, here: child processes (Janus runs from its own folder) and later
        # changes of the working directory must see the same place.
        return value.expanduser().resolve()

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
        """Create the data dir (private to its owner) and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The hashing key: from settings, else a random key kept in ``secret.key`` (read once)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_hex(32))
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
