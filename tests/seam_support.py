"""Run one more target on a seam for the length of a test, after what the root connected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from commandpost.seams import Seam


@contextmanager
def also(seam: Seam[Any], target: Callable[..., object]) -> Iterator[None]:
    wired = seam.targets
    seam.connect(*wired, target)
    try:
        yield
    finally:
        seam.connect(*wired)
