"""What the incident page shows from other domains: its pages and escalation, the SLO freeze.

One place for the cross-domain reads of the command post, so the page template stays a template.
Each function calls the owning domain's service.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from commandpost.incidents.models import Incident
from commandpost.metrics import slo
from commandpost.notify import service as notify_service
from commandpost.paging import service as paging_service
from commandpost.paging.schemas import EscalationOut, PageOut
from commandpost.policy import service as policy_service


def pages_of(session: Session, incident: Incident) -> list[PageOut]:
    """Who was paged (and FYI'd) when, on which channel, delivered or not — as ``GET …/pages`` shows it."""
    messages = notify_service.messages_for_incident(session, incident_id=incident.id)
    attempts = notify_service.attempts_for(session, message_ids=[m.id for m in messages])
    return [PageOut.of(m, attempts[m.id]) for m in messages]


def escalation_of(session: Session, incident: Incident) -> EscalationOut | None:
    """Where the incident's escalation stands (level, next due, stopped by whom)."""
    esc = paging_service.escalation_of(session, incident=incident)
    return EscalationOut.of(esc, incident, policy_service.current_config(session)) if esc else None


def slo_freeze(session: Session, incident: Incident, *, now: datetime) -> str | None:
    """The SLO freeze banner (guide §7): the service's error budget is exhausted — stop feature work."""
    if not incident.service:
        return None
    config = policy_service.current_config(session)
    if config.service(incident.service) is None:
        return None
    found = slo.freeze_status(session, config=config, service=incident.service, now=now)
    if not found.frozen:
        return None
    return (
        f"{incident.service} has exhausted its error budget ({', '.join(found.exhausted)}): "
        "feature work is frozen; invest in reliability"
    )
