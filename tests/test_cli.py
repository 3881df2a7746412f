"""The `mitalk` command as an operator runs it: output, exit codes, no tracebacks."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from factories import new_phone
from live import live_server, run_cli


def ok(data: Path, *args: str) -> str:
    result = run_cli(data, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(data: Path, *args: str, exit_code: int) -> str:
    result = run_cli(data, *args)
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stderr.strip()
    return result.stderr


def test_phase_staff_and_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert ok(data, "admin", "phase").strip() == "phase: internal"
    assert ok(data, "admin", "phase", "invite").strip() == "phase set to invite"
    assert ok(data, "admin", "phase").strip() == "phase: invite"
    assert "choose internal, invite or open" in refused(data, "admin", "phase", "beta", exit_code=2)

    assert ok(data, "admin", "staff", "add", "+49 151 2345 6789").strip() == "+4915123456789 added"
    assert "already staff" in ok(data, "admin", "staff", "add", "+4915123456789")
    assert ok(data, "admin", "staff", "list").split() == ["+4915123456789"]
    assert "numbering plan" in refused(data, "admin", "staff", "add", "+49 151", exit_code=2)
    assert (
        ok(data, "admin", "staff", "remove", "+4915123456789").strip() == "+4915123456789 removed"
    )
    assert "was not staff" in refused(
        data, "admin", "staff", "remove", "+4915123456789", exit_code=1
    )
    assert ok(data, "admin", "staff", "list").strip() == ""


def test_passes_and_invites_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert re.fullmatch(r"admitted 0 \(drop .+\)\n", ok(data, "admin", "passes", "drop", "5"))
    assert ok(data, "admin", "passes", "drop", "5", "--id", "d1").startswith("admitted 0")
    assert "already ran" in ok(data, "admin", "passes", "drop", "5", "--id", "d1")
    refused(data, "admin", "passes", "drop", "0", exit_code=2)
    refused(data, "admin", "passes", "drop", "many", exit_code=2)

    assert "2 passes" in ok(data, "admin", "passes", "window", "2")
    assert "close it first" in refused(data, "admin", "passes", "window", "3", exit_code=1)
    assert "closed: 0 of 2" in ok(data, "admin", "passes", "close")
    assert "no claim window" in refused(data, "admin", "passes", "close", exit_code=1)
    assert "ISO 8601" in refused(
        data, "admin", "passes", "window", "1", "--opens-at", "soon", exit_code=2
    )
    assert "close after it opens" in refused(
        data, "admin", "passes", "window", "1", "--opens-at", "2099-01-02T00:00:00Z",
        "--closes-at", "2099-01-01T00:00:00Z", exit_code=1,
    )

    assert "exactly one of" in refused(data, "admin", "invites", "grant", "3", exit_code=2)
    assert "has no account" in refused(
        data, "admin", "invites", "grant", "3", "--phone", new_phone(), exit_code=1
    )
    assert (
        ok(data, "admin", "invites", "grant", "3", "--all-members").strip()
        == "gave 3 invites to 0 members"
    )
    assert "database at revision" in ok(data, "db", "upgrade")


def _sign_in(base: str, outbox: Path, phone: str) -> dict:  # type: ignore[type-arg]
    assert httpx.post(f"{base}/api/v1/auth/code", json={"phone": phone}).status_code == 202
    line = [json.loads(l) for l in outbox.read_text().splitlines() if json.loads(l)["to"] == phone][
        -1
    ]
    code = re.search(r"\b\d{6}\b", line["body"]).group()  # type: ignore[union-attr]
    response = httpx.post(f"{base}/api/v1/auth/verify", json={"phone": phone, "code": code})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_operator_and_users_together_over_real_http(tmp_path: Path) -> None:
    """A running server and the CLI acting on the same deployment, as in production."""
    data = tmp_path / "data"
    outbox = data / "sms-outbox.jsonl"
    staff_phone, first_phone, second_phone = new_phone(), new_phone(), new_phone()
    ok(data, "admin", "staff", "add", staff_phone)
    with live_server(data) as base:
        staff = _sign_in(base, outbox, staff_phone)
        assert staff["account"]["status"] == "active"
        first = _sign_in(base, outbox, first_phone)
        second = _sign_in(base, outbox, second_phone)
        me = lambda who: httpx.get(
            f"{base}/api/v1/me", headers={"Authorization": f"Bearer {who['token']}"}
        ).json()
        assert first["account"]["waitlist"] == {"position": 1, "total": 1}
        assert me(first)["waitlist"] == {"position": 1, "total": 2}
        assert second["account"]["waitlist"] == {"position": 2, "total": 2}

        assert ok(data, "admin", "passes", "drop", "1").startswith("admitted 1 ")
        assert me(first)["status"] == "active"
        assert me(second)["waitlist"] == {"position": 1, "total": 1}

        ok(data, "admin", "passes", "window", "1")
        claim = httpx.post(
            f"{base}/api/v1/passes/claim", headers={"Authorization": f"Bearer {second['token']}"}
        )
        assert claim.status_code == 200 and claim.json() == {"status": "granted"}
        assert me(second)["status"] == "active"


def test_sign_out_ends_every_session_and_closes_their_sockets(tmp_path: Path) -> None:
    """`mitalk admin sign-out PHONE` from another process: the tokens stop working at once and
    the server's sweep (no Redis here, so no event reaches it) closes the account's socket."""
    data = tmp_path / "data"
    outbox = data / "sms-outbox.jsonl"
    phone = new_phone()
    ok(data, "admin", "phase", "open")
    quick = {"MITALK_SOCKET_SWEEP_SECONDS": "0.5", "MITALK_CODE_RESEND_SECONDS": "0"}
    with live_server(data, **quick) as base:
        laptop, handset = _sign_in(base, outbox, phone), _sign_in(base, outbox, phone)

        async def socket_until_closed() -> tuple[str, int | None]:
            url = base.replace("http://", "ws://") + f"/api/v1/me/ws?token={laptop['token']}"
            async with connect(url, proxy=None) as websocket:
                assert json.loads(await websocket.recv())["type"] == "hello"
                done = await asyncio.to_thread(ok, data, "admin", "sign-out", phone)
                assert done.strip() == f"{phone}: 2 sessions ended"
                while True:  # hallway hints may come first; the error says why, then the close
                    message = json.loads(await asyncio.wait_for(websocket.recv(), 15))
                    if message["type"] == "error":
                        break
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(websocket.recv(), 15)
                return message["error"]["code"], websocket.close_code

        assert asyncio.run(socket_until_closed()) == ("session_ended", 4401)
        for who in (laptop, handset):
            me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {who['token']}"})
            assert me.status_code == 401
    assert "has no account" in refused(data, "admin", "sign-out", new_phone(), exit_code=1)


def test_schemas_writes_what_the_web_client_is_generated_from(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    ok(tmp_path / "data", "schemas", "--out", str(out))
    openapi = json.loads((out / "openapi.json").read_text())
    assert (
        "/api/v1/auth/code" in openapi["paths"]
        and "/api/v1/rooms/{room_id}/hand" in openapi["paths"]
    )
    realtime = json.loads((out / "realtime-schemas.json").read_text())
    assert "room.hand_raised" in realtime["events"] and "snapshot" in realtime["server_messages"]
