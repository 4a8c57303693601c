"""What the incident page shows from other domains: its postmortem, its pages and escalation, SLO freeze.

One place for the cross-domain reads of the command post, so the page template stays a template.
Each function calls the owning domain's service; a capability whose domain has not landed yet
answers "nothing to show" here (and says so in its docstring) rather than faking data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.incidents.models import Incident
from commandpost.postmortems.models import Postmortem


def postmortem_of(session: Session, incident: Incident) -> Postmortem | None:
    """The incident's postmortem row (any state), or None before the criteria were evaluated."""
    return session.scalars(select(Postmortem).where(Postmortem.incident_id == incident.id)).first()


def pages_of(session: Session, incident: Incident) -> list[Any]:
    """Who was paged when (the paging domain). Not landed yet: nothing to show."""
    return []


def can_escalate() -> bool:
    """Whether "escalate now" can be offered (the paging domain's ``escalate``). Not landed yet."""
    return False


def slo_freeze(session: Session, incident: Incident, *, now: datetime) -> str | None:
    """The SLO freeze banner of the incident's service (the metrics domain). Not landed yet: none."""
    return None
