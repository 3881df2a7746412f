"""Room rules below HTTP: events wait for the commit; the event buffer's limits."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from mitalk.accounts import repository as accounts_repo
from mitalk.core.database import Database, unit_of_work, utcnow
from mitalk.realtime.bus import EventBus
from mitalk.rooms import service
from rooms.kit import fails, fetch, make_members, ok, open_room


async def test_events_are_published_only_after_the_commit(
    client: AsyncClient, db: Database, app: FastAPI
) -> None:
    bus: EventBus = app.state.bus
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    with bus.subscribe(rid) as subscription:
        async with unit_of_work(db) as session:
            user = await accounts_repo.user_by_id(session, guest.id)
            assert user is not None
            await service.set_hand(session, bus, rid, user, True, utcnow())
            assert subscription._queue.empty()  # not yet: nothing is committed
        event = await subscription.get()
        assert event is not None and (event.type, event.seq) == ("room.hand_raised", 4)


async def test_rolled_back_changes_publish_nothing_and_leave_no_gap(
    client: AsyncClient, db: Database, app: FastAPI
) -> None:
    bus: EventBus = app.state.bus
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    with bus.subscribe(rid) as subscription:
        with pytest.raises(RuntimeError):
            async with unit_of_work(db) as session:
                user = await accounts_repo.user_by_id(session, guest.id)
                assert user is not None
                await service.set_hand(session, bus, rid, user, True, utcnow())
                raise RuntimeError("the request failed after the change")
        assert subscription._queue.empty()
        room = await fetch(client, host, rid)
        assert room["seq"] == 3 and room["participants"][1]["hand_raised"] is False
        # the next change takes the number the rolled-back one would have had
        await ok(client, guest, "POST", f"/rooms/{rid}/hand")
        event = await subscription.get()
        assert event is not None and event.seq == 4


async def test_the_event_replay_is_bounded(client: AsyncClient, db: Database, app: FastAPI) -> None:
    app.state.bus.buffer_size = 3  # as MITALK_ROOM_EVENT_BUFFER=3 would set it at start-up
    host, guest = await make_members(db, 2)
    rid = (await open_room(client, host))["id"]
    await ok(client, guest, "POST", f"/rooms/{rid}/join")
    for _ in range(2):
        await ok(client, guest, "POST", f"/rooms/{rid}/hand")
        await ok(client, guest, "DELETE", f"/rooms/{rid}/hand")
    # seq is 7 now; the buffer keeps 5, 6, 7
    page = await ok(client, guest, "GET", f"/rooms/{rid}/events?after=4")
    assert [e["seq"] for e in page["events"]] == [5, 6, 7] and page["seq"] == 7
    assert (await ok(client, guest, "GET", f"/rooms/{rid}/events?after=7"))["events"] == []
    await fails(client, guest, "GET", f"/rooms/{rid}/events?after=3", 409, "resync_required")
    await fails(client, guest, "GET", f"/rooms/{rid}/events?after=8", 409, "resync_required")


async def test_replay_follows_the_room_rules(client: AsyncClient, db: Database) -> None:
    host, stranger = await make_members(db, 2)
    rid = (await open_room(client, host, visibility="closed"))["id"]
    await fails(client, stranger, "GET", f"/rooms/{rid}/events?after=0", 403, "not_invited")
    await fails(client, stranger, "GET", "/rooms/nope/events?after=0", 404, "room_not_found")
    page = await ok(client, host, "GET", f"/rooms/{rid}/events?after=0")
    assert [e["type"] for e in page["events"]] == ["room.created", "room.participant_joined"]
