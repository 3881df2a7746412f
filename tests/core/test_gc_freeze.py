"""Full collections freeze what survived them; an interval later everything is handed back."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from mitalk.core.gc_freeze import FreezeAfterFullCollections


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def freezer() -> Iterator[tuple[FreezeAfterFullCollections, Clock]]:
    clock = Clock()
    freezer = FreezeAfterFullCollections(thaw_seconds=60, clock=clock)
    gc.unfreeze()
    # Only the test's own collections: an automatic one (the suite's process holds millions of
    # objects) would freeze or thaw between the counts the tests check.
    was_enabled = gc.isenabled()
    gc.disable()
    freezer.install()
    try:
        yield freezer, clock
    finally:
        freezer.remove()
        if was_enabled:
            gc.enable()


def test_what_survives_a_full_collection_is_frozen_and_the_next_walks_only_the_new(
    freezer: tuple[FreezeAfterFullCollections, Clock],
) -> None:
    callback, _ = freezer
    kept = [[i] for i in range(50_000)]  # long-lived: lists are tracked by the collector
    gc.collect()
    assert callback.freezes == 1
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    gc.collect(0)  # a young collection freezes nothing
    assert callback.freezes == 1
    gc.collect()
    assert callback.freezes == 2 and gc.get_freeze_count() >= frozen


def test_cycles_among_frozen_objects_are_freed_after_the_thaw(
    freezer: tuple[FreezeAfterFullCollections, Clock],
) -> None:
    callback, clock = freezer

    class Node:
        other: Node

    kept = [Node() for _ in range(100)]
    for one in kept:
        one.other = one  # a reference cycle: reference counting alone never frees it
    refs = [weakref.ref(one) for one in kept]
    gc.collect()  # survivors, frozen with their cycles
    assert callback.freezes == 1
    del kept, one
    gc.collect()
    assert all(ref() is not None for ref in refs), "frozen cycles are out of the collector's sight"
    clock.now = 61
    gc.collect()  # the interval passed: this one thaws
    assert callback.thaws == 1 and gc.get_freeze_count() == 0
    gc.collect()  # and the next frees the cycles
    assert all(ref() is None for ref in refs)


def test_removing_it_thaws_and_stops_freezing(
    freezer: tuple[FreezeAfterFullCollections, Clock],
) -> None:
    callback, _ = freezer
    gc.collect()
    assert gc.get_freeze_count() > 0
    callback.remove()
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gc.get_freeze_count() == 0 and callback not in gc.callbacks
