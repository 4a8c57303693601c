"""serve's garbage-collector policy: no collection for a webhook burst's live objects, cycles still freed."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from commandpost.serve import tune_gc


class _Node:
    def __init__(self) -> None:
        self.other: object = self


@pytest.fixture
def tuned() -> Iterator[list[int]]:
    """tune_gc applied; yields the generations collected since (the process's policy restored after)."""
    threshold = gc.get_threshold()
    collected: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collected.append(info["generation"])

    tune_gc()
    gc.callbacks.append(record)
    try:
        yield collected
    finally:
        gc.callbacks.remove(record)
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_the_live_objects_of_the_webhooks_in_flight_set_off_no_collection(tuned: list[int]) -> None:
    # 32 webhooks of 50 alerts in flight hold ~9,000 container objects, all alive: walking them frees nothing.
    in_flight = [[object()] for _ in range(20_000)]
    assert tuned == []
    assert len(in_flight) == 20_000


def test_cyclic_garbage_is_still_collected_without_being_asked(tuned: list[int]) -> None:
    first = _Node()
    gone = weakref.ref(first)
    del first
    for _ in range(60_000):  # more cycles than the first threshold: memory stays bounded
        _Node()
    assert gone() is None
    assert 0 in tuned
