"""The event bus: events from the node that committed them to every node's subscribers.

Two implementations of one interface: ``MemoryEventBus`` (one process, the embedded default)
and ``RedisEventBus`` (many API nodes). Events travel on channels (a room's id, an account's
``@user:<id>``, see ``events.py``). Both keep a bounded per-channel buffer of recent state
events (those with a ``seq``: a room's), so a client that reconnects can be sent what it missed,
and both fan events out to local subscribers (WebSocket connections, the media layer) through
bounded queues: a subscriber that falls too far behind is marked ``overflowed`` instead of
slowing everyone else down. A subscriber may also give a ``sink`` that sees each event first,
synchronously, and takes it instead of the queue (the room socket's live path, rooms/ws.py).

A context that must react to a change in a context below it follows that context's committed
event (``follow``): the follower runs on the node that publishes the event, once, as part of
publishing it, which happens after the commit that made the change (and, in a request, before
the request answers).

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
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Self

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from mitalk.core.database import after_commit
from mitalk.realtime.events import EventBase, parse_event

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub

log = structlog.get_logger(__name__)

SUBSCRIBER_QUEUE = 1000

Follower = Callable[[EventBase], Awaitable[None]]
# A subscriber's synchronous first look at an event: True when it dealt with the event itself
# (a live room socket writes it straight to its connection), False to queue it as usual.
Sink = Callable[[EventBase], bool]


class Subscription:
    """A subscriber's queue of events: one channel's, or (``channel`` None) every channel's."""

    def __init__(
        self,
        fanout: Fanout,
        channel: str | None,
        maxsize: int = SUBSCRIBER_QUEUE,
        sink: Sink | None = None,
    ) -> None:
        self.channel = channel
        self.overflowed = False
        self.sink = sink
        self._fanout = fanout
        self._queue: asyncio.Queue[EventBase | None] = asyncio.Queue(maxsize)

    def deliver(self, event: EventBase) -> None:
        """Offer an event to the sink, else queue it; on overflow, stop queueing and wake the
        reader to notice. Runs inside the fan-out's loop: it must not raise."""
        if self.overflowed:
            return
        if self.sink is not None:
            try:
                if self.sink(event):
                    return
            except Exception as exc:  # noqa: BLE001 - one subscriber must not stop the others
                log.warning("subscriber_sink_failed", error=repr(exc))
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

    def idle(self) -> bool:
        """Nothing queued and nothing lost: the reader has caught up."""
        return not self.overflowed and self._queue.empty()

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
    """Local subscribers of one process, by channel."""

    def __init__(self) -> None:
        self._by_channel: dict[str | None, set[Subscription]] = {}

    def add(self, channel: str | None, sink: Sink | None = None) -> Subscription:
        """Register a subscriber before reading a snapshot, so nothing falls in between."""
        subscription = Subscription(self, channel, sink=sink)
        self._by_channel.setdefault(channel, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Unregister a subscriber."""
        subs = self._by_channel.get(subscription.channel)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._by_channel[subscription.channel]

    def deliver(self, event: EventBase) -> None:
        """Hand an event to its channel's subscribers and to those of every channel."""
        for key in (event.channel, None):
            for subscription in list(self._by_channel.get(key, ())):
                subscription.deliver(event)

    def overflow_all(self) -> None:
        """Tell every subscriber that events may have been lost."""
        for subs in list(self._by_channel.values()):
            for subscription in list(subs):
                subscription.mark_overflowed()

    def count(self, channel: str | None) -> int:
        """How many subscribers a channel (or the every-channel stream) has here."""
        return len(self._by_channel.get(channel, ()))


class EventBus(ABC):
    """Publish events after commit; subscribe to them; read a room's recent events."""

    def __init__(self, buffer_size: int) -> None:
        self.buffer_size = buffer_size
        self.fanout = Fanout()
        self._followers: dict[type[EventBase], list[Follower]] = {}

    async def start(self) -> None:
        """Connect (if there is anything to connect to)."""

    async def close(self) -> None:
        """Disconnect; subscribers are told that events may be lost."""
        self.fanout.overflow_all()

    async def publish(self, event: EventBase) -> None:
        """Send an event to every subscriber of its channel, on every node (keep it if it has a
        seq), then run this node's followers of its type."""
        await self.send(event)
        for follower in self._followers.get(type(event), ()):
            await follower(event)

    def follow(self, event_type: type[EventBase], follower: Follower) -> None:
        """Run ``follower`` for every event of this type this node publishes (module docstring)."""
        self._followers.setdefault(event_type, []).append(follower)

    @abstractmethod
    async def send(self, event: EventBase) -> None:
        """Send an event to its channel's subscribers on every node; keep it if it has a seq."""

    @abstractmethod
    async def history(self, channel: str, after: int) -> list[EventBase]:
        """The kept events of a channel with ``seq > after``, in order (the oldest may be gone)."""

    def subscribe(self, channel: str | None, sink: Sink | None = None) -> Subscription:
        """A subscription to one channel's events (a room's), or (``None``) to every channel's;
        ``sink`` sees each event first, synchronously, and may take it instead of the queue."""
        return self.fanout.add(channel, sink)


class MemoryEventBus(EventBus):
    """The in-process bus: the embedded default, for one API process."""

    def __init__(self, buffer_size: int = 500, max_rooms: int = 10_000) -> None:
        super().__init__(buffer_size)
        self.max_rooms = max_rooms
        self._buffers: OrderedDict[str, list[EventBase]] = OrderedDict()

    async def send(self, event: EventBase) -> None:
        """Keep the event (ordered by seq) and hand it to local subscribers."""
        if event.seq is not None:
            buffer = self._buffers.setdefault(event.channel, [])
            self._buffers.move_to_end(event.channel)
            seqs = [e.seq or 0 for e in buffer]
            position = bisect.bisect_right(seqs, event.seq)
            if position and seqs[position - 1] == event.seq:
                return  # published twice: deliver once
            buffer.insert(position, event)
            del buffer[: max(0, len(buffer) - self.buffer_size)]
            while len(self._buffers) > self.max_rooms:
                self._buffers.popitem(last=False)
        self.fanout.deliver(event)

    async def history(self, channel: str, after: int) -> list[EventBase]:
        """The kept events of a channel after ``after``."""
        return [e for e in self._buffers.get(channel, ()) if (e.seq or 0) > after]


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
    them can still replay them), and every event is published on its channel's Redis channel.
    Each node holds one pattern subscription for all channels and fans events out to its own
    subscribers.
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
    def buffer_key(channel: str) -> str:
        """The sorted set holding a room's (a channel's) recent events."""
        return f"mitalk:room:{channel}:events"

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
                self.fanout.deliver(parse_event(data))
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

    async def send(self, event: EventBase) -> None:
        """Keep a state event in its channel's buffer and publish it, atomically, once per seq."""
        data = event.model_dump_json()
        channel = self.CHANNEL_PREFIX + event.channel
        if event.seq is None:
            await self.redis.publish(channel, data)
            return
        await self._keep_and_publish(
            keys=[self.buffer_key(event.channel)],
            args=[event.seq, data, self.buffer_size, channel, self.BUFFER_TTL_SECONDS],
        )

    async def history(self, channel: str, after: int) -> list[EventBase]:
        """The kept events of a channel after ``after``, from Redis."""
        raw = await self.redis.zrangebyscore(self.buffer_key(channel), f"({after}", "+inf")
        events: dict[int, EventBase] = {}
        for item in raw:
            if isinstance(item, str | bytes):
                event = parse_event(item)
                events.setdefault(event.seq or 0, event)  # a seq published twice counts once
        return list(events.values())


def publish_after_commit(session: AsyncSession, bus: EventBus, event: EventBase) -> None:
    """Send an event once ``session`` commits (a rollback drops it)."""

    async def publish() -> None:
        await bus.publish(event)

    after_commit(session, publish)


def contiguous(events: list[EventBase], after: int, upto: int) -> list[EventBase] | None:
    """The events numbered ``after+1 .. upto`` if all are there, else None (a gap)."""
    wanted = [e for e in events if e.seq is not None and after < e.seq <= upto]
    if [e.seq for e in wanted] != list(range(after + 1, upto + 1)):
        return None
    return wanted
