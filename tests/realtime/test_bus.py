"""The event bus: in-process and Redis, one interface; replay buffers; fan-out; overflow."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from mitalk.notifications.events import NotificationNew, notification_event
from mitalk.notifications.schemas import NotificationOut
from mitalk.realtime.bus import EventBus, MemoryEventBus, RedisEventBus, contiguous
from mitalk.realtime.events import EventBase, user_channel
from mitalk.rooms.events import ActiveSpeaker, HandLowered, HandRaised


def hand(room_id: str, seq: int, user_id: str = "u") -> HandRaised:
    return HandRaised(room_id=room_id, seq=seq, at=dt.datetime.now(dt.UTC), user_id=user_id)


async def next_event(subscription: object, timeout: float = 3.0) -> EventBase | None:
    return await asyncio.wait_for(subscription.get(), timeout)  # type: ignore[attr-defined]


@pytest.fixture(params=["memory", "redis"])
async def buses(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two nodes' buses: the same in-process bus twice, or two Redis buses on one Redis."""
    if request.param == "memory":
        bus = MemoryEventBus(buffer_size=3)
        yield bus, bus
        return
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    pair = [RedisEventBus(c, buffer_size=3) for c in clients]
    for bus in pair:
        await bus.start()
    try:
        yield pair[0], pair[1]
    finally:
        for bus, client in zip(pair, clients, strict=True):
            await bus.close()
            await client.aclose()


async def test_events_reach_subscribers_of_their_room_and_of_all_rooms(
    buses: tuple[EventBus, EventBus],
) -> None:
    here, there = buses
    with (
        there.subscribe("r1") as room_sub,
        there.subscribe(None) as all_sub,
        there.subscribe("r2") as other,
    ):
        await here.publish(hand("r1", 1))
        received = await next_event(room_sub)
        assert received is not None and received.model_dump() == hand("r1", 1).model_dump() | {
            "at": received.at
        }
        assert (await next_event(all_sub)) is not None
        await here.publish(hand("r2", 1, "v"))
        got = await next_event(other)
        assert got is not None and got.room_id == "r2"
        assert room_sub._queue.empty()  # r2's event did not reach r1's subscriber


async def test_the_replay_buffer_is_ordered_and_bounded(buses: tuple[EventBus, EventBus]) -> None:
    here, there = buses
    for seq in (2, 1, 4, 3, 5):  # published out of order
        await here.publish(hand("r1", seq))
    await here.publish(hand("r1", 5))  # and once twice
    await here.publish(ActiveSpeaker(room_id="r1", at=dt.datetime.now(dt.UTC), user_id="u"))
    kept = await there.history("r1", 0)
    assert [e.seq for e in kept] == [3, 4, 5]  # the newest 3; ephemeral events are not kept
    assert [e.seq for e in await there.history("r1", 3)] == [4, 5]
    assert await there.history("unknown", 0) == []


async def test_a_subscriber_that_falls_behind_is_told_not_blocking_others() -> None:
    bus = MemoryEventBus()
    with bus.subscribe("r1") as slow, bus.subscribe("r1") as fast:
        slow._queue = asyncio.Queue(2)
        for seq in range(1, 5):
            await bus.publish(hand("r1", seq))
        assert slow.overflowed and await slow.get() is None
        assert [(await fast.get()).seq for _ in range(4)] == [1, 2, 3, 4]  # type: ignore[union-attr]


async def test_closing_a_subscription_stops_delivery() -> None:
    bus = MemoryEventBus()
    subscription = bus.subscribe("r1")
    subscription.close()
    await bus.publish(hand("r1", 1))
    assert subscription._queue.empty() and bus.fanout.count("r1") == 0


def test_contiguous_finds_gaps() -> None:
    events: list[EventBase] = [hand("r", 3), hand("r", 4), hand("r", 6)]
    assert contiguous(events, 2, 4) == events[:2]
    assert contiguous(events, 2, 6) is None  # 5 is missing
    assert contiguous(events, 1, 4) is None  # 2 is gone
    assert contiguous(events, 4, 4) == []


async def test_the_redis_bus_keeps_the_buffer_in_redis(redis_url: str) -> None:
    client = Redis.from_url(redis_url)
    bus = RedisEventBus(client, buffer_size=10)
    try:
        await bus.publish(hand("r9", 1))
        assert await client.zcard(RedisEventBus.buffer_key("r9")) == 1
        assert (
            0 < await client.ttl(RedisEventBus.buffer_key("r9")) <= RedisEventBus.BUFFER_TTL_SECONDS
        )
        fresh = RedisEventBus(client, buffer_size=10)  # another node, started later, replays it
        assert [e.seq for e in await fresh.history("r9", 0)] == [1]
    finally:
        await client.aclose()


async def test_lower_and_raise_round_trip_through_json(buses: tuple[EventBus, EventBus]) -> None:
    here, there = buses
    event = HandLowered(
        room_id="r1", seq=1, at=dt.datetime(2026, 1, 2, 3, 4, 5, 6789, dt.UTC), user_id="u"
    )
    with there.subscribe("r1") as sub:
        await here.publish(event)
        received = await next_event(sub)
    assert received == event and isinstance(received, HandLowered)


async def test_personal_events_cross_nodes_to_their_account_only(
    buses: tuple[EventBus, EventBus],
) -> None:
    here, there = buses
    notice = NotificationOut(
        id=1, kind="test", body="Hi", created_at=dt.datetime.now(dt.UTC), read=False
    )
    with there.subscribe(user_channel("u1")) as mine, there.subscribe(user_channel("u2")) as theirs:
        await here.publish(notification_event("u1", notice, unread=1))
        received = await next_event(mine)
        assert isinstance(received, NotificationNew) and received.notification["body"] == "Hi"
        assert theirs._queue.empty()
