"""Secrets stay out of the log: the logging `mitalk serve` sets up, at its default level."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from mitalk.core.logging import CHATTY_LOGGERS, configure_logging
from mitalk.core.settings import Settings

PHONE = "+4915123456789"
TOKEN = "tok-3f9a1c7e5b2d4a6c8e0f"
OPERATOR_TOKEN = "op-token-5d1e9b3c7a"
DB_PASSWORD = "db-pass-8c2f"


@pytest.fixture
def server_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What `mitalk serve`'s logging (default level, console format) writes, captured."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in CHATTY_LOGGERS}
    out = io.StringIO()
    monkeypatch.setattr(sys, "stderr", out)
    configure_logging()
    try:
        yield out
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, old in saved_levels.items():
            logging.getLogger(name).setLevel(old)
        structlog.reset_defaults()


def fail_while_signing_in(phone: str, token: str, settings: Settings) -> None:
    """A failure whose frame holds a phone number, a token and the settings."""
    raise RuntimeError("the database went away")


def test_tracebacks_and_urls_in_the_default_log_carry_no_secrets(
    server_log: io.StringIO, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        secret_key="secret-key-of-the-test",
        database_url=f"postgresql+asyncpg://mitalk:{DB_PASSWORD}@db.internal/mitalk",
    )
    try:
        fail_while_signing_in(PHONE, TOKEN, settings)
    except RuntimeError:
        # As the app's last-resort handler logs it, and as uvicorn logs an ASGI failure.
        structlog.get_logger("mitalk.core.errors").exception("unhandled_error")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    # uvicorn's access line and its WebSocket line for a socket opened with ?token=
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET",
        f"/api/v1/rooms/r1/socket?token={TOKEN}&since=3", "1.1", 101,
    )
    logging.getLogger("uvicorn.error").warning(
        '%s - "WebSocket %s" 403', "127.0.0.1:50001", f"/api/v1/me/socket?token={TOKEN}"
    )
    structlog.get_logger("mitalk.test").warning("upstream_refused", header=f"Bearer {TOKEN}")
    # A text sent, and a provider's refusal that names the number (as Twilio's do)
    structlog.get_logger("mitalk.accounts.sms").info("sms_sent", to=PHONE, provider="twilio")
    structlog.get_logger("mitalk.notifications").warning(
        "sms_failed", error=f"SMS provider refused the message: 400 The 'To' number {PHONE} is "
        "not valid"
    )
    text = server_log.getvalue()
    assert "the database went away" in text and "fail_while_signing_in" in text  # still useful
    assert text.count("[redacted]") >= 3 and "since=3" in text
    assert "+491********89" in text  # masked, still telling one number from another
    for secret in (PHONE, TOKEN, TOKEN[:12], OPERATOR_TOKEN, DB_PASSWORD, "secret-key-of-the"):
        assert secret not in text, f"{secret!r} is in the log:\n{text}"


def test_settings_never_show_their_secrets(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        operator_token=OPERATOR_TOKEN,
        sms_twilio_auth_token="twilio-secret-1",
        turn_secret="turn-secret-1",
        database_url=f"postgresql+asyncpg://mitalk:{DB_PASSWORD}@db.internal/mitalk",
        redis_url=f"redis://:{DB_PASSWORD}@cache.internal/0",
    )
    for shown in (repr(settings), str(settings), f"{settings}"):
        for secret in (OPERATOR_TOKEN, "twilio-secret-1", "turn-secret-1", DB_PASSWORD):
            assert secret not in shown
    assert settings.operator_token is not None
    assert settings.operator_token.get_secret_value() == OPERATOR_TOKEN
