"""Locks per key (a room, a seat) that exist only while someone holds or waits for them.

A table of ``asyncio.Lock`` keyed by whatever a request names grows with every name ever
used: ``DELETE /rooms/{any}/media`` once left one lock behind per made-up room id. Here an
entry is made on first use and dropped when its last holder leaves, so the table is as large
as the work in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting


class KeyedLocks(Generic[K]):
    """One lock per key, freed when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._entries: dict[K, _Entry] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: K) -> AsyncIterator[None]:
        """Hold the key's lock for the block (waiting for earlier holders first)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0 and self._entries.get(key) is entry:
                del self._entries[key]

    def __len__(self) -> int:
        """How many keys have a holder or a waiter now."""
        return len(self._entries)
