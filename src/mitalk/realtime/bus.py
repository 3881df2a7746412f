"""The event bus: room events from the node that committed them to every node's subscribers.

Two implementations of one interface: ``MemoryEventBus`` (one process, the embedded default)
and ``RedisEventBus`` (many API nodes). Both keep a bounded per-room buffer of recent state
events, so a client that reconnects can be sent what it missed, and both fan events out to
local subscribers (WebSocket connections, the media layer) through bounded queues: a subscriber
that falls too far behind is marked ``overflowed`` instead of slowing everyone else down.

Events arrive at subscribers in publish order, which is not always ``seq`` order (two requests
on one room commit in ``seq`` order but may publish in either order); subscribers that need
order (the WebSocket gateway) reorder by ``seq``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import TYPE_CHECKING, Self

import structlog

from mitalk.rooms.events import EventBase

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)

SUBSCRIBER_QUEUE = 1000


class Subscription:
    """A subscriber's queue of events: one room's, or (``room_id`` None) every room's."""

    def __init__(
        self, fanout: Fanout, room_id: str | None, maxsize: int = SUBSCRIBER_QUEUE
    ) -> None:
        self.room_id = room_id
        self.overflowed = False
        self._fanout = fanout
        self._queue: asyncio.Queue[EventBase | None] = asyncio.Queue(maxsize)

    def deliver(self, event: EventBase) -> None:
        """Queue an event; on overflow, stop queueing and wake the reader to notice."""
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.mark_overflowed()

    def mark_overflowed(self) -> None:
        """Events were lost for this subscriber (too slow, or the bus lost its connection)."""
        if self.overflowed:
            return
        self.overflowed = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> EventBase | None:
        """The next event, or None once events were lost (check ``overflowed``)."""
        return await self._queue.get()

    def close(self) -> None:
        """Stop receiving events."""
        self._fanout.remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class Fanout:
    """Local subscribers of one process, by room."""

    def __init__(self) -> None:
        self._by_room: dict[str | None, set[Subscription]] = {}

    def add(self, room_id: str | None) -> Subscription:
        """Register a subscriber before reading a snapshot, so nothing falls in between."""
        subscription = Subscription(self, room_id)
        self._by_room.setdefault(room_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Unregister a subscriber."""
        subs = self._by_room.get(subscription.room_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._by_room[subscription.room_id]

    def deliver(self, event: EventBase) -> None:
        """Hand an event to the room's subscribers and to those of every room."""
        for key in (event.room_id, None):
            for subscription in list(self._by_room.get(key, ())):
                subscription.deliver(event)

    def overflow_all(self) -> None:
        """Tell every subscriber that events may have been lost."""
        for subs in list(self._by_room.values()):
            for subscription in list(subs):
                subscription.mark_overflowed()

    def count(self, room_id: str | None) -> int:
        """How many subscribers a room (or the all-rooms stream) has here."""
        return len(self._by_room.get(room_id, ()))


class EventBus(ABC):
    """Publish room events after commit; subscribe to them; read a room's recent events."""

    def __init__(self, buffer_size: int) -> None:
        self.buffer_size = buffer_size
        self.fanout = Fanout()

    async def start(self) -> None:
        """Connect (if there is anything to connect to)."""

    async def close(self) -> None:
        """Disconnect; subscribers are told that events may be lost."""
        self.fanout.overflow_all()

    @abstractmethod
    async def publish(self, event: EventBase) -> None:
        """Send an event to every subscriber of its room, on every node; keep it if it has a seq."""

    @abstractmethod
    async def history(self, room_id: str, after: int) -> list[EventBase]:
        """The kept events of a room with ``seq > after``, in order (the oldest may be gone)."""

    def subscribe(self, room_id: str | None) -> Subscription:
        """A subscription to one room's events, or (``None``) to every room's."""
        return self.fanout.add(room_id)


class MemoryEventBus(EventBus):
    """The in-process bus: the embedded default, for one API process."""

    def __init__(self, buffer_size: int = 500, max_rooms: int = 10_000) -> None:
        super().__init__(buffer_size)
        self.max_rooms = max_rooms
        self._buffers: OrderedDict[str, list[EventBase]] = OrderedDict()

    async def publish(self, event: EventBase) -> None:
        """Keep the event (ordered by seq) and hand it to local subscribers."""
        if event.seq is not None:
            buffer = self._buffers.setdefault(event.room_id, [])
            self._buffers.move_to_end(event.room_id)
            seqs = [e.seq or 0 for e in buffer]
            position = bisect.bisect_right(seqs, event.seq)
            if position and seqs[position - 1] == event.seq:
                return  # published twice: deliver once
            buffer.insert(position, event)
            del buffer[: max(0, len(buffer) - self.buffer_size)]
            while len(self._buffers) > self.max_rooms:
                self._buffers.popitem(last=False)
        self.fanout.deliver(event)

    async def history(self, room_id: str, after: int) -> list[EventBase]:
        """The kept events of a room after ``after``."""
        return [e for e in self._buffers.get(room_id, ()) if (e.seq or 0) > after]


# Keep an event in its room's sorted set (unless that seq is there already: a second publish
# of one event is a no-op), trim the set to the buffer size, refresh its expiry, publish it.
_KEEP_AND_PUBLISH = """
local key, seq, data, size = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('ZCOUNT', key, seq, seq) > 0 then
  return 0
end
redis.call('ZADD', key, seq, data)
redis.call('ZREMRANGEBYRANK', key, 0, -(size + 1))
redis.call('EXPIRE', key, ARGV[5])
redis.call('PUBLISH', ARGV[4], data)
return 1
"""


class RedisEventBus(EventBus):
    """A bus shared by every API node through Redis.

    A room's recent events live in a sorted set scored by ``seq`` (so a node that did not see
    them can still replay them), and every event is published on the room's channel. Each node
    holds one pattern subscription for all rooms and fans events out to its own subscribers.
    """

    CHANNEL_PREFIX = "mitalk:events:"
    BUFFER_TTL_SECONDS = 24 * 3600

    def __init__(self, redis: Redis, buffer_size: int = 500) -> None:
        super().__init__(buffer_size)
        self.redis = redis
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._keep_and_publish = redis.register_script(_KEEP_AND_PUBLISH)

    @staticmethod
    def buffer_key(room_id: str) -> str:
        """The sorted set holding a room's recent events."""
        return f"mitalk:room:{room_id}:events"

    async def start(self) -> None:
        """Subscribe to every room's channel, confirmed before the first publish is trusted."""
        await self._subscribe()
        self._listener = asyncio.create_task(self._listen(), name="mitalk-redis-bus")

    async def _subscribe(self) -> None:
        self._pubsub = self.redis.pubsub()
        await self._pubsub.psubscribe(self.CHANNEL_PREFIX + "*")
        while True:
            message = await self._pubsub.get_message(timeout=5)
            if message is None:
                raise ConnectionError("Redis did not confirm the event subscription")
            if message["type"] == "psubscribe":
                return

    async def close(self) -> None:
        """Stop listening and drop the subscription."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await super().close()

    async def _listen(self) -> None:
        while True:
            try:
                assert self._pubsub is not None
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
                if message is None or message["type"] != "pmessage":
                    continue
                data: str | bytes = message["data"]
                self.fanout.deliver(_parse(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; subscribers resync
                log.warning("redis_bus_disconnected", error=repr(exc))
                self.fanout.overflow_all()
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    if self._pubsub is not None:
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                    await self._subscribe()

    async def publish(self, event: EventBase) -> None:
        """Keep a state event in the room's buffer and publish it, atomically and once per seq."""
        data = event.model_dump_json()
        channel = self.CHANNEL_PREFIX + event.room_id
        if event.seq is None:
            await self.redis.publish(channel, data)
            return
        await self._keep_and_publish(
            keys=[self.buffer_key(event.room_id)],
            args=[event.seq, data, self.buffer_size, channel, self.BUFFER_TTL_SECONDS],
        )

    async def history(self, room_id: str, after: int) -> list[EventBase]:
        """The kept events of a room after ``after``, from Redis."""
        raw = await self.redis.zrangebyscore(self.buffer_key(room_id), f"({after}", "+inf")
        events: dict[int, EventBase] = {}
        for item in raw:
            if isinstance(item, str | bytes):
                event = _parse(item)
                events.setdefault(event.seq or 0, event)  # a seq published twice counts once
        return list(events.values())


def _parse(raw: str | bytes) -> EventBase:
    from mitalk.realtime.personal import parse_any_event  # personal events build on this module

    return parse_any_event(raw)


def contiguous(events: list[EventBase], after: int, upto: int) -> list[EventBase] | None:
    """The events numbered ``after+1 .. upto`` if all are there, else None (a gap)."""
    wanted = [e for e in events if e.seq is not None and after < e.seq <= upto]
    if [e.seq for e in wanted] != list(range(after + 1, upto + 1)):
        return None
    return wanted
