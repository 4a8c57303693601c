"""The processor interface of the engine (DESIGN.md, "The engine").

A processor *decides*: it compares stored ``*_at`` columns with ``now`` and
inserts rows (outgoing messages with unique idempotency keys, timeline entries).
It never sends; only the sender processor sends what is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class Processor(Protocol):
    name: str

    def has_work(self, session: Session, now: datetime) -> bool:
        """Whether ``run`` at ``now`` would find anything to do, read in a read-only transaction.

        On SQLite the runner asks first and takes the one write lock only for a processor that has
        work, so intake is not kept waiting behind passes that change nothing. Say True when unsure.
        The transaction is the pass's, shared with the other processors' questions until one runs,
        and a processor listed twice is asked once in it: answer from what it reads and from what
        the processor's own runs changed, and leave nothing in the session.
        """
        ...

    def run(self, session: Session, now: datetime) -> int:
        """Do what is due at ``now``; return how much work was done. The runner commits."""
        ...

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        """The earliest instant this processor will have work, or None if it has none scheduled;
        asked in one read-only transaction with the other processors' ``next_due``."""
        ...


def is_due(due: datetime | None, now: datetime) -> bool:
    """``has_work`` for a processor whose ``next_due`` is exact: something is due by ``now``."""
    return due is not None and due <= now


@dataclass(frozen=True)
class PassPlan:
    """What one engine pass runs, each processor named once (the composition root lists them).

    A pass runs ``pages`` then ``send`` — a page that fell due goes out before anything else runs —
    then ``decide`` in order, then ``pages`` and ``send`` again, so a page or message the deciders
    raised (an SLO page, a reminder) goes out in the same pass."""

    pages: tuple[Processor, ...]
    decide: tuple[Processor, ...]
    send: tuple[Processor, ...]

    def sequence(self) -> list[Processor]:
        """The order of one pass."""
        return [*self.pages, *self.send, *self.decide, *self.pages, *self.send]
