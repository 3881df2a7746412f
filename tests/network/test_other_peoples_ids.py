"""Nobody acts on someone else's connection or card by its id (IDOR): a third person's every
call on them is 404, as if the id did not exist, and changes nothing."""

from __future__ import annotations

from httpx import AsyncClient

from mitalk.core.database import Database
from network.kit import together_in_room
from rooms.kit import fails, make_members, ok


async def test_a_third_person_cannot_act_on_others_connections_or_cards(
    client: AsyncClient, db: Database
) -> None:
    ana, ben, eve = await make_members(db, 3)
    pending = await ok(client, ana, "POST", "/connections", {"user_id": ben.id})
    room = await together_in_room(client, ana, ben, eve)
    card = await ok(client, ana, "POST", "/cards", {"user_id": ben.id, "room_id": room})
    for method, path in (
        ("POST", f"/connections/{pending['id']}/accept"),
        ("POST", f"/connections/{pending['id']}/decline"),
        ("DELETE", f"/connections/{pending['id']}"),
    ):
        await fails(client, eve, method, path, 404, "connection_not_found")
    for method, path in (
        ("POST", f"/cards/{card['id']}/accept"),
        ("POST", f"/cards/{card['id']}/decline"),
    ):
        await fails(client, eve, method, path, 404, "card_not_found")
        await fails(
            client, ana, method, path, 404, "card_not_found"
        )  # the sender cannot answer their own
    await fails(
        client, ana, "POST", f"/connections/{pending['id']}/accept", 404, "connection_not_found"
    )
    # an accepted connection: only its two people may remove it
    await ok(client, ben, "POST", f"/connections/{pending['id']}/accept")
    await fails(client, eve, "DELETE", f"/connections/{pending['id']}", 404, "connection_not_found")
    assert (await ok(client, ana, "GET", f"/users/{ben.id}"))["connection"] == "connected"
    assert [c["status"] for c in (await ok(client, ben, "GET", "/cards"))["received"]] == [
        "pending"
    ]
    assert (await ok(client, eve, "GET", "/connections")) == {
        "connections": [],
        "incoming": [],
        "outgoing": [],
    }
