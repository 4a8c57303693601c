"""What the public status page tells (guide §3-1 step 5): each service's state and the external updates.

A component is a service of the applied ops; its state comes from its open incidents whose
severity's ``comms_scope`` includes ``external`` (severities.yaml decides what the public hears
about). The updates are exactly the comms entries Comms posted with audience ``external`` — of
open incidents, and of the last 7 days — nothing else of the timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from commandpost.incidents import rules
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy.opsfiles import OpsConfig

WINDOW = timedelta(days=7)
MAX_UPDATES = 200
STATES = {"SEV1": "major outage", "SEV2": "partial outage", "SEV3": "degraded", "SEV4": "degraded"}


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    state: str
    severity: str | None


@dataclass(frozen=True)
class Update:
    id: int
    at: datetime
    number: str
    title: str
    severity: str
    status: str
    kind: str
    text: str


def _public(config: OpsConfig, severity: str) -> bool:
    level = config.severities.get(severity)
    return level is not None and "external" in level.comms_scope


def components(session: Session, *, config: OpsConfig) -> list[Component]:
    """Every service of the applied ops, at the state of its worst open incident the public hears about."""
    rows = session.execute(
        select(Incident.service, Incident.severity).where(Incident.status.in_(rules.OPEN_STATUSES))
    ).all()
    worst: dict[str, str] = {}
    for service, severity in rows:
        if service and _public(config, severity):
            current = worst.get(service)
            if current is None or rules.severity_rank(severity) < rules.severity_rank(current):
                worst[service] = severity
    return [
        Component(
            name=s.name,
            description=s.description,
            state=STATES[worst[s.name]] if s.name in worst else "operational",
            severity=worst.get(s.name),
        )
        for s in config.services
    ]


def external_updates(session: Session, *, now: datetime) -> list[Update]:
    """External comms entries of open incidents and of the last 7 days, newest first."""
    query = (
        select(TimelineEntry, Incident)
        .join(Incident, Incident.id == TimelineEntry.incident_id)
        .where(
            TimelineEntry.kind == "comms",
            or_(Incident.status.in_(rules.OPEN_STATUSES), TimelineEntry.at >= now - WINDOW),
        )
        .order_by(TimelineEntry.id.desc())
        .limit(MAX_UPDATES * 2)
    )
    out = []
    for entry, incident in session.execute(query):
        if (entry.data or {}).get("audience") != "external":
            continue
        out.append(
            Update(
                id=entry.id,
                at=entry.at,
                number=rules.format_number(incident.number),
                title=incident.title,
                severity=incident.severity,
                status=incident.status,
                kind=str((entry.data or {}).get("comms_kind", "update")),
                text=entry.text,
            )
        )
    return out[:MAX_UPDATES]
