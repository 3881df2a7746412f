"""A name before being heard or seen asking, and a stage (re)join that always starts muted."""

from __future__ import annotations

from httpx import AsyncClient

from factories import in_transaction
from mitalk.core.database import Database
from mitalk.network import repository as network_repo
from network.kit import together_in_room
from rooms.kit import fails, fetch, make_members, ok, open_room, participant


async def _unname(db: Database, user_id: str, name: str = "") -> None:
    async def work(session: object) -> None:
        profile = await network_repo.ensure_profile(session, user_id)  # type: ignore[arg-type]
        profile.name = name

    await in_transaction(db, work)


async def test_a_nameless_listener_cannot_raise_a_hand_until_named(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    await _unname(db, guest.id)
    room = await open_room(client, host)
    rid = room["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await fails(client, guest, "POST", f"/rooms/{rid}/hand", 409, "name_required")
    assert participant(await fetch(client, host, rid), guest)["hand_raised"] is False  # type: ignore[index]
    await ok(client, guest, "DELETE", f"/rooms/{rid}/hand")  # lowering needs no name
    await _unname(db, guest.id, "   ")  # blanks are no name either
    await fails(client, guest, "POST", f"/rooms/{rid}/hand", 409, "name_required")

    await ok(client, guest, "PATCH", "/me/profile", {"name": "Grace"})
    raised = await ok(client, guest, "POST", f"/rooms/{rid}/hand")
    assert raised["hand_raised"] is True and raised["name"] == "Grace"


async def test_a_nameless_speaker_stays_muted_and_the_error_says_why(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    await _unname(db, guest.id)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
    await fails(client, guest, "POST", f"/rooms/{rid}/unmute", 409, "name_required")
    assert participant(await fetch(client, host, rid), guest)["muted"] is True  # type: ignore[index]
    await ok(client, guest, "PATCH", "/me/profile", {"name": "Grace"})
    assert (await ok(client, guest, "POST", f"/rooms/{rid}/unmute"))["muted"] is False


async def test_a_nameless_person_cannot_offer_a_card(client: AsyncClient, db: Database) -> None:
    host, guest = await make_members(db, 2)
    rid = await together_in_room(client, host, guest)
    await _unname(db, guest.id)
    body = {"user_id": host.id, "room_id": rid}
    await fails(client, guest, "POST", "/cards", 409, "name_required", body)
    assert (await ok(client, host, "GET", "/cards"))["received"] == []
    await ok(client, guest, "PATCH", "/me/profile", {"name": "Grace"})
    card = await ok(client, guest, "POST", "/cards", body)
    assert card["status"] == "pending"


async def test_a_speaker_reopening_the_room_is_muted_whatever_they_were(
    client: AsyncClient, db: Database
) -> None:
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    await ok(client, host, "POST", f"/rooms/{rid}/speakers", {"user_id": guest.id})
    await ok(client, guest, "POST", f"/rooms/{rid}/unmute")
    seq = (await fetch(client, host, rid))["seq"]

    # The browser closed while live (no leave): opening the room again joins again.
    again = await ok(client, guest, "POST", f"/rooms/{rid}/join")
    me = participant(again, guest)
    assert me is not None and me["role"] == "speaker" and me["muted"] is True
    events = (await ok(client, host, "GET", f"/rooms/{rid}/events?after={seq}"))["events"]
    assert [(e["type"], e["user_id"], e["by"]) for e in events] == [
        ("room.muted", guest.id, guest.id)
    ]
    # Joining again while muted announces nothing more.
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    assert (await fetch(client, host, rid))["seq"] == seq + 1

    # Left while live, back later: still a speaker, muted.
    await ok(client, guest, "POST", f"/rooms/{rid}/unmute")
    await ok(client, guest, "POST", f"/rooms/{rid}/leave")
    back = participant(await ok(client, guest, "POST", f"/rooms/{rid}/join"), guest)
    assert back is not None and (back["role"], back["muted"]) == ("speaker", True)

    # The host too: a moderator reopening the page is not live either.
    await ok(client, host, "POST", f"/rooms/{rid}/unmute")
    host_again = participant(await ok(client, host, "POST", f"/rooms/{rid}/join"), host)
    assert host_again is not None and host_again["muted"] is True
