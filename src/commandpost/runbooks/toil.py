"""Toil candidates (guide §6-3): runbook steps with a command that people keep running by hand.

A step carrying a copy-pasteable command, marked done in at least N incidents, is work a
script could do. Steps are grouped by runbook and the hash of their text, so a step keeps
its count when it moves within the runbook; the ranking is by incidents, then by the latest run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.clock import utc
from commandpost.errors import ValidationFailed
from commandpost.runbooks.models import RunbookStepState

DEFAULT_MIN_INCIDENTS = 3


@dataclass(frozen=True)
class Candidate:
    slug: str
    step_id: str
    text: str
    section: int
    incidents: int
    last_done_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "step_id": self.step_id,
            "text": self.text,
            "section": self.section,
            "incidents": self.incidents,
            "last_done_at": self.last_done_at.isoformat(),
        }


def candidates(
    session: Session, *, min_incidents: int = DEFAULT_MIN_INCIDENTS, limit: int = 50
) -> list[Candidate]:
    """Steps with a command done by hand in ≥ ``min_incidents`` incidents, most repeated first."""
    if min_incidents < 1:
        raise ValidationFailed(
            f"min_incidents must be at least 1, not {min_incidents}", details={"field": "min_incidents"}
        )
    done = (RunbookStepState.state == "done", RunbookStepState.has_command.is_(True))
    incidents = func.count(func.distinct(RunbookStepState.incident_id))
    last = func.max(RunbookStepState.marked_at)
    groups = session.execute(
        select(
            RunbookStepState.slug, RunbookStepState.step_hash, incidents, last, func.max(RunbookStepState.id)
        )
        .where(*done)
        .group_by(RunbookStepState.slug, RunbookStepState.step_hash)
        .having(incidents >= min_incidents)
        .order_by(incidents.desc(), last.desc(), RunbookStepState.slug, RunbookStepState.step_hash)
        .limit(limit)
    ).all()
    latest_ids = [row[4] for row in groups]
    latest = {
        r.id: r for r in session.scalars(select(RunbookStepState).where(RunbookStepState.id.in_(latest_ids)))
    }
    out = []
    for slug, _hash, count, last_at, latest_id in groups:
        row = latest[latest_id]
        last_done = utc(last_at) if isinstance(last_at, datetime) else row.marked_at
        out.append(Candidate(slug, row.step_id, row.text, row.section, int(count), last_done))
    return out
