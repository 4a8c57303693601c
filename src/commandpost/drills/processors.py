"""The engine processor of drills: prompts that fell due, written on their drill's timeline.

Reads only the prompts due by now (``drill_prompt.due_at`` is indexed and cleared once decided); the
prompts' due times were fixed at the start from the original's offsets and the drill's speed, so the
engine's Clock drives the replay (tests move a FrozenClock).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from commandpost.drills import service
from commandpost.engine.processor import is_due


class DrillPrompts:
    name = "drills.prompts"

    def has_work(self, session: Session, now: datetime) -> bool:
        return is_due(self.next_due(session, now), now)

    def run(self, session: Session, now: datetime) -> int:
        return service.deliver_due(session, now=now)

    def next_due(self, session: Session, now: datetime) -> datetime | None:
        return service.next_due(session)
