"""Seams: where a lower layer hands control to code of a higher layer it must not import.

Incidents cannot import paging (paging is built on incidents), yet opening an incident must page.
The lower layer declares a :class:`Seam` and calls it; the composition root
(:mod:`commandpost.wiring`) connects the higher layer's functions to it, once per process, before
anything is decided. A seam that was never connected raises :class:`NotWired` instead of doing
nothing: a process that forgot the root must fail loudly, not open incidents that never page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, ParamSpec

P = ParamSpec("P")


class NotWired(RuntimeError):
    """A seam was called before the composition root connected it: a programming error, never input."""


class Seam(Generic[P]):
    """A named list of callables, run in order inside the caller's transaction; empty until connected."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._targets: tuple[Callable[P, object], ...] | None = None

    def connect(self, *targets: Callable[P, object]) -> None:
        """Replace what the seam calls (the root wires every seam, an empty one with no targets)."""
        self._targets = targets

    @property
    def targets(self) -> tuple[Callable[P, object], ...]:
        """What the seam calls, in order (raises :class:`NotWired` if it was never connected)."""
        if self._targets is None:
            raise NotWired(f"seam {self.name!r} was never connected by the composition root")
        return self._targets

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if self._targets is None:
            raise NotWired(
                f"seam {self.name!r} was called before the composition root wired this process: call "
                "commandpost.wiring.wire() first (an incident opened now would page nobody)"
            )
        for target in self._targets:
            target(*args, **kwargs)
