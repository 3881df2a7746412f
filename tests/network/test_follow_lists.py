"""Follower and following counts on a person's page, and the lists behind them."""

from __future__ import annotations

from httpx import AsyncClient

from mitalk.core.database import Database
from rooms.kit import fails, make_members, ok


def ids(page: dict) -> list[str]:  # type: ignore[type-arg]
    return [p["id"] for p in page["people"]]


async def test_counts_and_lists_newest_first_without_the_blocked(
    client: AsyncClient, db: Database
) -> None:
    star, a, b, c, viewer = await make_members(db, 5, "F")
    for fan in (a, b, c):
        await ok(client, fan, "POST", f"/users/{star.id}/follow")
    await ok(client, star, "POST", f"/users/{a.id}/follow")

    shown = await ok(client, viewer, "GET", f"/users/{star.id}")
    assert (shown["followers_count"], shown["following_count"]) == (3, 1)
    assert ids(await ok(client, viewer, "GET", f"/users/{star.id}/followers")) == [c.id, b.id, a.id]
    assert ids(await ok(client, viewer, "GET", f"/users/{star.id}/following")) == [a.id]

    first = await ok(client, viewer, "GET", f"/users/{star.id}/followers?limit=2")
    assert ids(first) == [c.id, b.id] and first["next_offset"] == 2
    rest = await ok(client, viewer, "GET", f"/users/{star.id}/followers?limit=2&offset=2")
    assert ids(rest) == [a.id] and rest["next_offset"] is None

    # Someone the viewer blocked is left out of the viewer's lists, not of the count.
    await ok(client, viewer, "POST", f"/users/{b.id}/block")
    assert ids(await ok(client, viewer, "GET", f"/users/{star.id}/followers")) == [c.id, a.id]
    assert all("phone" not in p for p in first["people"])

    await ok(client, c, "DELETE", f"/users/{star.id}/follow")
    assert (await ok(client, viewer, "GET", f"/users/{star.id}"))["followers_count"] == 2


async def test_lists_of_someone_unseen_are_404_and_limits_hold(
    client: AsyncClient, db: Database
) -> None:
    star, blocker = await make_members(db, 2)
    await ok(client, star, "POST", f"/users/{blocker.id}/block")
    await fails(client, blocker, "GET", f"/users/{star.id}/followers", 404, "user_not_found")
    await fails(client, blocker, "GET", "/users/nobody/following", 404, "user_not_found")
    await fails(client, star, "GET", f"/users/{star.id}/followers?limit=101", 422,
                "invalid_request")  # fmt: skip
