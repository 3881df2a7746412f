"""Text message senders: the console outbox, and the Twilio request over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs

import pytest

from mitalk.accounts.sms import ConsoleSmsSender, SmsError, TwilioSmsSender, make_sms_sender
from mitalk.core.settings import Settings


async def test_console_sender_appends_json_lines(tmp_path: Path) -> None:
    outbox = tmp_path / "data" / "sms-outbox.jsonl"
    sender = ConsoleSmsSender(outbox)
    await sender.send("+4915123456789", "Your Mi Talk code is 123456.")
    await sender.send("+447700900123", "second")
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [m["to"] for m in lines] == ["+4915123456789", "+447700900123"]
    assert lines[0]["body"] == "Your Mi Talk code is 123456." and "sent_at" in lines[0]


def test_twilio_request_building() -> None:
    sender = TwilioSmsSender("AC123", "tok", "+15005550006", api_base="https://sms.example/2010-04-01/")
    request = sender.build_request("+4915123456789", "Your code is 123456")
    assert request.method == "POST"
    assert str(request.url) == "https://sms.example/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert parse_qs(request.content.decode()) == {
        "To": ["+4915123456789"], "From": ["+15005550006"], "Body": ["Your code is 123456"],
    }


class _Provider(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, list[str]]]]] = []
    status = 201

    def do_POST(self) -> None:  # the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((self.path, parse_qs(body)))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b'{"sid": "SM1"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Provider.received, _Provider.status = [], 201
    yield f"http://127.0.0.1:{server.server_address[1]}/2010-04-01"
    server.shutdown()


async def test_twilio_sender_posts_to_the_provider(provider: str) -> None:
    sender = TwilioSmsSender("AC9", "secret", "+15005550006", api_base=provider)
    await sender.send("+4915123456789", "hello")
    assert _Provider.received == [
        (
            "/2010-04-01/Accounts/AC9/Messages.json",
            {"To": ["+4915123456789"], "From": ["+15005550006"], "Body": ["hello"]},
        )
    ]


async def test_twilio_refusal_is_an_sms_error(provider: str) -> None:
    _Provider.status = 400
    with pytest.raises(SmsError, match="refused"):
        await TwilioSmsSender("AC9", "secret", "+1", api_base=provider).send("+4915123456789", "x")


def test_misconfigured_provider_fails_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MITALK_SMS_TWILIO_AUTH_TOKEN"):
        make_sms_sender(
            Settings(
                data_dir=tmp_path,
                sms_backend="twilio",
                sms_twilio_account_sid="AC1",
                sms_twilio_from="+1",
            )
        )
    assert isinstance(make_sms_sender(Settings(data_dir=tmp_path)), ConsoleSmsSender)
