"""How pages get acknowledged: through which method, and how fast on each (issue 16).

A team that added push and SMS wants to know whether they work: if nobody ever acknowledges from
the push notification, or acks by SMS take four times as long as by push, the rules need a
change. Time to ack is measured from the first page the person was sent about the incident
(its due time) to the acknowledgement; acks with no page before them (a declarer's own ack, an
ack in the web UI of an incident nobody was paged for) count per method but have no time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.incidents.models import Incident
from commandpost.notify.models import OutgoingMessage

APP = "app"
"""The web UI, the API or the CLI: acknowledged by someone logged in."""


@dataclass
class MethodStats:
    count: int = 0
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "acknowledged": self.count,
            "median_seconds_to_ack": round(median(self.seconds), 1) if self.seconds else None,
            "timed": len(self.seconds),
        }


def by_person(session: Session, *, start: datetime, end: datetime) -> dict[str, dict[str, MethodStats]]:
    """``{person: {method: stats}}`` for the incidents acknowledged in [start, end)."""
    acked = session.execute(
        select(
            Incident.id, Incident.acknowledged_by, Incident.acknowledged_via, Incident.acknowledged_at
        ).where(
            Incident.acknowledged_at >= start,
            Incident.acknowledged_at < end,
            Incident.acknowledged_by.is_not(None),
        )
    ).all()
    first_page = {
        (row.incident_id, row.person): row.first
        for row in session.execute(
            select(
                OutgoingMessage.incident_id,
                OutgoingMessage.person,
                func.min(OutgoingMessage.due_at).label("first"),
            )
            .where(
                OutgoingMessage.incident_id.in_([a.id for a in acked] or [-1]),
                OutgoingMessage.key.like("page/%"),
            )
            .group_by(OutgoingMessage.incident_id, OutgoingMessage.person)
        )
    }
    found: dict[str, dict[str, MethodStats]] = defaultdict(lambda: defaultdict(MethodStats))
    for incident_id, person, via, at in acked:
        stats = found[person or ""][via or APP]
        stats.count += 1
        paged = first_page.get((incident_id, person))
        if paged is not None and at >= paged:
            stats.seconds.append((at - paged).total_seconds())
    return found


def summary(per_person: dict[str, dict[str, MethodStats]]) -> dict[str, dict[str, Any]]:
    """Every person's methods together: which methods acknowledge pages, and how fast."""
    total: dict[str, MethodStats] = defaultdict(MethodStats)
    for methods in per_person.values():
        for method, stats in methods.items():
            total[method].count += stats.count
            total[method].seconds += stats.seconds
    return {method: stats.to_dict() for method, stats in sorted(total.items())}
