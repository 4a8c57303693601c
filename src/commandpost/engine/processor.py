"""The processor interface of the engine (DESIGN.md, "The engine").

A processor *decides*: it compares stored ``*_at`` columns with ``now`` and
inserts rows (outgoing messages with unique idempotency keys, timeline entries).
It never sends; only the sender processor sends what is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session


class Processor(Protocol):
    name: str

    def run(self, session: Session, now: datetime) -> int:
        """Do what is due at ``now``; return how much work was done. The runner commits."""
        ...

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        """The earliest instant this processor will have work, or None if it has none scheduled."""
        ...
