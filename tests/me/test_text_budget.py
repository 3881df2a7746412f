"""The text-message budget of sign-in (issue 11, items 2 and 4): what counts, against what.

Every budget counts only texts that went out; numbers that cannot or should not get a text
(premium-rate, satellite, landline, ...) are refused before anything is counted.
"""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from conftest import Clock
from factories import new_phone
from mitalk.core.ratelimit import network_of


def texts(outbox: Path) -> list[str]:
    """Who was texted, in order."""
    if not outbox.exists():
        return []
    return [json.loads(line)["to"] for line in outbox.read_text().splitlines()]


def from_address(app: FastAPI, address: str) -> AsyncClient:
    return AsyncClient(transport=ASGITransport(app=app, client=(address, 1)), base_url="http://t")


async def ask(client: AsyncClient, phone: str) -> int:
    return (await client.post("/api/v1/auth/code", json={"phone": phone})).status_code


def test_networks_group_ipv6_by_64_and_keep_ipv4_alone() -> None:
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:ffff:1:2:3")
    assert network_of("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("203.0.113.7") == "203.0.113.7"
    assert network_of("203.0.113.8") != network_of("203.0.113.7")
    assert network_of("::ffff:203.0.113.7") == "203.0.113.7"
    assert network_of("fe80::1%eth0") == "fe80::/64"
    assert network_of("unknown") == "unknown"


async def test_one_ipv6_64_shares_one_budget(app: FastAPI, outbox: Path) -> None:
    app.state.settings.codes_per_address_per_hour = 3
    for host in range(1, 4):
        async with from_address(app, f"2001:db8:77:1::{host:x}") as client:
            assert await ask(client, new_phone()) == 202
    # A fourth address of the same /64 (the review's pumping: every /128 counted apart).
    async with from_address(app, "2001:db8:77:1:dead:beef:0:1") as client:
        response = await client.post("/api/v1/auth/code", json={"phone": new_phone()})
    assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    async with from_address(app, "2001:db8:77:2::1") as client:
        assert await ask(client, new_phone()) == 202
    assert len(texts(outbox)) == 4


async def test_numbers_that_are_not_mobiles_get_no_text(
    client: AsyncClient, outbox: Path
) -> None:
    refused = {
        "+44 871 234 5678": "premium rate (UK 0871)",
        "+881 612 345 678": "satellite (Iridium)",
        "+870 773 111 632": "satellite (Inmarsat)",
        "+44 70 1234 5678": "personal number (UK 070)",
        "+49 30 123456": "landline (Berlin)",
        "+1 800 234 5678": "toll free",
        "+44 800 123 4567": "toll free",
    }
    for raw, kind in refused.items():
        response = await client.post("/api/v1/auth/code", json={"phone": raw})
        assert response.status_code == 422, (kind, response.text)
        assert response.json()["error"]["code"] == "phone_not_mobile", kind
        assert "mobile" in response.json()["error"]["message"]
    assert texts(outbox) == []
    # Mobiles, and plans that cannot tell mobiles from landlines (US), still get their code.
    for raw in ["+49 151 2345 6789", "+1 201 555 0123", "+33 6 12 34 56 78", "+86 138 0013 8000"]:
        assert await ask(client, raw) == 202, raw
    assert len(texts(outbox)) == 4


async def test_refused_requests_do_not_use_up_a_numbers_texts(
    app: FastAPI, client: AsyncClient, outbox: Path, clock: Clock
) -> None:
    app.state.settings.codes_per_phone_per_hour = 2
    phone = new_phone()
    assert await ask(client, phone) == 202
    # A stranger hammers the number during its cool-down: every request is refused...
    async with from_address(app, "198.51.100.66") as stranger:
        for _ in range(10):
            assert await ask(stranger, phone) == 429
    clock.advance(31)
    # ...and none of them counted: the owner still has the second text of the hour.
    assert await ask(client, phone) == 202
    assert texts(outbox) == [phone, phone]
    clock.advance(31)
    assert await ask(client, phone) == 429  # the real limit still holds: 2 sent this hour


async def test_a_block_of_numbers_a_country_and_the_deployment_have_budgets(
    app: FastAPI, client: AsyncClient, outbox: Path
) -> None:
    settings = app.state.settings
    settings.codes_per_address_per_hour = 1000
    settings.sms_per_prefix_per_hour = 2
    # Pumping walks a range: +49 151 2345 6000, 6001, ... share one block of 1,000.
    assert await ask(client, "+4915123456001") == 202
    assert await ask(client, "+4915123456999") == 202
    assert await ask(client, "+4915123456500") == 429
    assert await ask(client, "+4915123457000") == 202  # the next block
    settings.sms_per_country_per_hour = 4
    assert await ask(client, new_phone()) == 202
    assert await ask(client, new_phone()) == 429  # Germany's 4 of the hour are spent
    assert await ask(client, "+33612345678") == 202  # France is not
    settings.sms_per_hour = 6
    assert await ask(client, "+33612345679") == 202
    assert await ask(client, "+447911123456") == 429  # the deployment's 6 are spent
    assert len(texts(outbox)) == 6
