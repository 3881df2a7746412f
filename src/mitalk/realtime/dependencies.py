"""The app's event bus as a typed dependency, and how it is chosen from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from mitalk.core.settings import Settings
from mitalk.realtime.bus import EventBus, MemoryEventBus, RedisEventBus

if TYPE_CHECKING:
    from redis.asyncio import Redis


def make_bus(settings: Settings, redis: Redis | None) -> EventBus:
    """The Redis bus when Redis is configured, else the in-process one."""
    if redis is not None:
        return RedisEventBus(redis, buffer_size=settings.room_event_buffer)
    return MemoryEventBus(buffer_size=settings.room_event_buffer)


async def get_bus(request: Request) -> EventBus:
    """The app's event bus."""
    bus: EventBus = request.app.state.bus
    return bus


Bus = Annotated[EventBus, Depends(get_bus)]
