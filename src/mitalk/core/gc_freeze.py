"""Keep full garbage collections short in a process that holds many long-lived connections.

CPython's full collection walks every tracked object. An API node holding 10,000 sockets has
about 2.5 million (bench/sockets.py), and each full collection then stops the event loop for
1.3-2.9 s of CPU: one during a room event's fan-out delays every delivery by that much.

After each full collection, what survived it is moved out of the collector's sight
(``gc.freeze()``): the next full collections walk only what was made since. Objects frozen
that later become garbage are still freed by reference counting; only those caught in
reference cycles wait, so once every ``thaw_seconds`` (an hour) everything is handed back
(``gc.unfreeze()``) and the next full collection walks it all once and frees them.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

THAW_SECONDS = 3600.0


class FreezeAfterFullCollections:
    """A ``gc.callbacks`` entry: freezes after each full collection, thaws once an interval."""

    def __init__(
        self, thaw_seconds: float = THAW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.thaw_seconds = thaw_seconds
        self.clock = clock
        self.thawed_at = clock()
        self.freezes = 0
        self.thaws = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info.get("generation") != 2:
            return
        if self.clock() - self.thawed_at >= self.thaw_seconds:
            # Hand everything back; the next full collection walks it all once.
            gc.unfreeze()
            self.thawed_at = self.clock()
            self.thaws += 1
            return
        gc.freeze()
        self.freezes += 1

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
        gc.unfreeze()
