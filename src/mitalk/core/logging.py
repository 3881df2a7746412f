"""Structured logging with structlog; stdlib logs (uvicorn, alembic) go through its renderer.

At the default level (info) the log has one line per event an operator acts on: the service
started (its URL and data dir), Janus ready, a room live or ended, a failure with what to do.
Libraries' chatter is raised to warnings there and shown only with ``MITALK_LOG_LEVEL=debug``:
httpx prints a line per Janus API call (several per join, one per health check), uvicorn four
lines per start and stop, Alembic two lines per connection before any migration.

Secrets stay out of the log at every level: a session token in a logged URL (a WebSocket
handshake's ``?token=``) or after ``Bearer``, and an API secret in a URL, are replaced by
``[redacted]``, and phone numbers show only their first three and last two digits; tracebacks
are plain (code and the exception's message), never the local variables of each frame (a phone
number, a token, the settings), which structlog's default rich tracebacks would print.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog

from mitalk.core.ports import StartupError

# Loggers that speak at info about things an operator need not see; warnings still show.
CHATTY_LOGGERS = ("httpx", "httpcore", "uvicorn.error", "alembic.runtime.migration")

# "mitalk.core.ports.PortTaken: the Janus API port 8188 is in use ..." (last traceback line).
_MITALK_EXCEPTION_LINE = re.compile(r"^(mitalk(?:\.\w+)+)\.(\w+): (.+)$")
# "…/janus/123?maxev=10&apisecret=abc" -> "…&apisecret=[redacted]"
_SECRET_IN_URL = re.compile(r"\b(\w*secret)=[^&\s\"']+")
# "/api/v1/rooms/x/socket?token=abc" -> "…?token=[redacted]"; "Bearer abc" -> "Bearer [redacted]"
_SECRETS_IN_TEXT = (
    (_SECRET_IN_URL, r"\1=[redacted]"),
    (re.compile(r"([?&;](?:\w*token|\w*secret|code)=)[^&;\s\"']+", re.IGNORECASE), r"\1[redacted]"),
    (re.compile(r"\b(bearer\s+)[\w.~+/=-]+", re.IGNORECASE), r"\1[redacted]"),
    # A phone number (E.164) keeps its first three and last two digits: "+491******89".
    (re.compile(r"(?<![\w+])\+(\d{3})(\d{4,10})(\d{2})(?!\d)"), None),
)


def _mask_digits(match: re.Match[str]) -> str:
    return f"+{match.group(1)}{'*' * len(match.group(2))}{match.group(3)}"


def redact(text: str) -> str:
    """``text`` with tokens and secrets in URLs and ``Bearer`` credentials replaced, and phone
    numbers masked."""
    for pattern, replacement in _SECRETS_IN_TEXT:
        text = pattern.sub(replacement if replacement is not None else _mask_digits, text)
    return text


def redact_secrets(
    _: object, __: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A structlog processor: every text value of the event, redacted (see ``redact``)."""
    for key, value in event_dict.items():
        if isinstance(value, str) and key != "_record":
            event_dict[key] = redact(value)
    return event_dict


class StartupErrorsInOneLine(logging.Filter):
    """A StartupError raised while the app starts is logged as its one line, not a traceback.

    Uvicorn logs what Starlette hands it when the app's lifespan fails: the formatted traceback,
    then "Application startup failed. Exiting.". For errors that are the operator's to fix (a
    port in use, see core/ports.py) the message alone says all, so the traceback is replaced by
    it and uvicorn's follow-up line dropped.
    """

    def __init__(self) -> None:
        super().__init__()
        self._rewrote = False

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._rewrote and message.startswith("Application startup failed"):
            return False
        if not message.startswith("Traceback"):
            return True
        match = _MITALK_EXCEPTION_LINE.match(message.rstrip().rsplit("\n", 1)[-1])
        if match and _is_startup_error(match.group(1), match.group(2)):
            record.msg, record.args, record.exc_info = match.group(3), (), None
            self._rewrote = True
        return True


class RedactSecretsInUrls(logging.Filter):
    """Hide ``apisecret=…`` in logged URLs: Janus's event long poll carries its API secret there,
    and httpx logs every URL it requests (at debug, see CHATTY_LOGGERS)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "secret=" in message:
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1=[redacted]", message), ()
        return True


def _is_startup_error(module_name: str, class_name: str) -> bool:
    module = sys.modules.get(module_name)
    cls = getattr(module, class_name, None)
    return isinstance(cls, type) and issubclass(cls, StartupError)


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Set up structlog and the stdlib root logger once per process."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as plain text (no locals), then redacted like the rest.
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    debug = root.getEffectiveLevel() <= logging.DEBUG
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if debug else logging.WARNING)
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecretsInUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactSecretsInUrls())
    uvicorn_error = logging.getLogger("uvicorn.error")
    for old in [f for f in uvicorn_error.filters if isinstance(f, StartupErrorsInOneLine)]:
        uvicorn_error.removeFilter(old)
    uvicorn_error.addFilter(StartupErrorsInOneLine())
