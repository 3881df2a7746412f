"""A block reaches live rooms: the blocked person's socket in the blocker's room is closed and a
new one is refused as if the room did not exist; the blocker's own socket in the blocked
person's room sees them leave."""

from __future__ import annotations

import pytest

from realtime.conftest import Closed, Live, receive


def _until(ws, kind: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    while True:
        message = receive(ws)
        if message["type"] == kind:
            return message


def test_blocking_closes_the_blocked_persons_socket_in_the_blockers_room(live: Live) -> None:
    host, guest, other = live.members(3)
    room = live.ok(host, "POST", "/rooms", {"title": "Host's room"})
    live.ok(guest, "POST", f"/rooms/{room['id']}/join")
    live.ok(other, "POST", f"/rooms/{room['id']}/join")
    with live.socket(room["id"], guest) as guest_ws, live.socket(room["id"], other) as other_ws:
        assert receive(guest_ws)["type"] == "snapshot"
        assert receive(other_ws)["type"] == "snapshot"
        live.ok(host, "POST", f"/users/{guest.id}/block")
        removed = _until(guest_ws, "room.removed")
        assert (removed["user_id"], removed["by"]) == (guest.id, host.id)
        with pytest.raises(Closed) as closed:
            receive(guest_ws)
        assert closed.value.code == 4403
        # the others in the room see the person go, as for any removal
        assert _until(other_ws, "room.removed")["user_id"] == guest.id
    with live.socket(room["id"], guest) as again:
        message = receive(again)
        assert (message["type"], message["error"]["code"]) == ("error", "room_not_found")
        with pytest.raises(Closed) as closed:
            receive(again)
        assert closed.value.code == 4404


def test_the_blocker_leaves_the_blocked_persons_room(live: Live) -> None:
    host, guest = live.members(2)
    room = live.ok(host, "POST", "/rooms", {"title": "Host's room"})
    live.ok(guest, "POST", f"/rooms/{room['id']}/join")
    with live.socket(room["id"], host) as host_ws:
        assert receive(host_ws)["type"] == "snapshot"
        live.ok(guest, "POST", f"/users/{host.id}/block")
        assert _until(host_ws, "room.participant_left")["user_id"] == guest.id
    assert guest.id not in {
        p["user_id"] for p in live.ok(host, "GET", f"/rooms/{room['id']}")["participants"]
    }
