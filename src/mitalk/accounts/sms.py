"""Sending text messages: an interface, the console sender (embedded default), and Twilio."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Protocol

import httpx
import structlog

from mitalk.core.database import utcnow
from mitalk.core.settings import Settings

log = structlog.get_logger(__name__)


class SmsError(Exception):
    """A message could not be handed to the provider."""


class SmsSender(Protocol):
    """Sends one text message to an E.164 number."""

    async def send(self, to: str, body: str, key: str | None = None) -> None:
        """Hand the message over for delivery, or raise ``SmsError``.

        ``key`` names the message for de-duplication: a sender that can (the console sender)
        never sends two messages with the same key, even across restarts.
        """
        ...


class ConsoleSmsSender:
    """Prints each message to the log and appends it as a JSON line to ``sms-outbox.jsonl``."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self._lock = asyncio.Lock()
        self._keys: set[str] | None = None

    def _sent_keys(self) -> set[str]:
        # Read once: which keyed messages are already in the outbox (a torn last line is skipped).
        if self._keys is None:
            self._keys = set()
            if self.outbox.exists():
                for line in self.outbox.read_text(encoding="utf-8").splitlines():
                    try:
                        key = json.loads(line).get("key")
                    except ValueError:
                        continue
                    if key:
                        self._keys.add(key)
        return self._keys

    async def send(self, to: str, body: str, key: str | None = None) -> None:
        message: dict[str, str] = {"to": to, "body": body, "sent_at": utcnow().isoformat()}
        async with self._lock:
            if key is not None:
                if key in self._sent_keys():
                    log.info("sms_console_duplicate_skipped", to=to, key=key)
                    return
                message["key"] = key
            self.outbox.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # The outbox holds sign-in codes: readable by its owner only, whatever the umask.
            fd = os.open(self.outbox, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            if os.fstat(fd).st_mode & 0o077:
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(json.dumps(message) + "\n")
                f.flush()
            if key is not None:
                self._sent_keys().add(key)
        log.info("sms_console", to=to, body=body)


class TwilioSmsSender:
    """Sends through Twilio's Messages API (form-encoded POST with basic auth)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        api_base: str = "https://api.twilio.com/2010-04-01",
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.account_sid, self.auth_token, self.sender = account_sid, auth_token, sender
        self.api_base = api_base.rstrip("/")
        self.client = client or httpx.AsyncClient(timeout=10)

    def build_request(self, to: str, body: str) -> httpx.Request:
        """The HTTP request that hands one message to the provider."""
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return self.client.build_request(
            "POST",
            f"{self.api_base}/Accounts/{self.account_sid}/Messages.json",
            data={"To": to, "From": self.sender, "Body": body},
            headers={"Authorization": f"Basic {credentials}"},
        )

    async def send(self, to: str, body: str, key: str | None = None) -> None:
        # Twilio has no idempotency key: a crash between its acceptance and our record of it
        # can repeat that one message (the worker's lease keeps the window to one request).
        try:
            response = await self.client.send(self.build_request(to, body))
        except httpx.HTTPError as exc:
            raise SmsError(f"SMS provider unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise SmsError(
                f"SMS provider refused the message: {response.status_code} {response.text[:200]}"
            )
        log.info("sms_sent", to=to, provider="twilio")


def make_sms_sender(settings: Settings) -> SmsSender:
    """The sender the settings name; a misconfigured provider fails at start, not at first use."""
    if settings.sms_backend == "twilio":
        missing = [
            name
            for name, value in [
                ("MITALK_SMS_TWILIO_ACCOUNT_SID", settings.sms_twilio_account_sid),
                ("MITALK_SMS_TWILIO_AUTH_TOKEN", settings.sms_twilio_auth_token),
                ("MITALK_SMS_TWILIO_FROM", settings.sms_twilio_from),
            ]
            if not value
        ]
        if missing:
            raise ValueError(f"MITALK_SMS_BACKEND=twilio needs {', '.join(missing)}")
        assert settings.sms_twilio_account_sid and settings.sms_twilio_auth_token
        assert settings.sms_twilio_from
        return TwilioSmsSender(
            settings.sms_twilio_account_sid,
            settings.sms_twilio_auth_token.get_secret_value(),
            settings.sms_twilio_from,
            settings.sms_twilio_api_base,
        )
    return ConsoleSmsSender(settings.ensure_data_dir() / "sms-outbox.jsonl")
