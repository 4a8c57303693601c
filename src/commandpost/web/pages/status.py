"""The public status page (guide §3-1 step 5, "whether a status-page update is needed") and its Atom feed.

No login. Components are the services of the applied ops; a component's state comes from its
open incidents whose severity's ``comms_scope`` includes ``external`` (severities.yaml decides
what the public hears about). The updates shown are exactly the comms entries Comms posted with
audience ``external`` — of open incidents, and of the last 7 days — nothing else of the timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from commandpost.errors import Unavailable
from commandpost.incidents import rules
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from commandpost.policy.schema import OpsConfig
from commandpost.web.auth import PageRoute
from commandpost.web.render import page, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
WINDOW = timedelta(days=7)
MAX_UPDATES = 200
STATES = {"SEV1": "major outage", "SEV2": "partial outage", "SEV3": "degraded", "SEV4": "degraded"}


def _read_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.read_sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


PublicRead = Annotated[Session, Depends(_read_session)]


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


def components(session: Session, config: OpsConfig) -> list[Component]:
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


def external_updates(session: Session, now: datetime) -> list[Update]:
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


def _context(request: Request, session: Session) -> dict[str, Any]:
    now = request.app.state.clock.now()
    request.state.now = now
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return {"components": [], "updates": []}
    request.state.timezone, request.state.org = config.settings.timezone, config.settings.org
    return {"components": components(session, config), "updates": external_updates(session, now)}


@router.get("/status")
def status_page(request: Request, session: PublicRead) -> Response:
    values = _context(request, session)
    return page(request, "status.html", nav="status", headers={"Cache-Control": "no-cache"}, **values)


@router.get("/status/feed.atom")
def status_feed(request: Request, session: PublicRead) -> Response:
    values = _context(request, session)
    base = request.app.state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    body = render(
        "status.atom.xml",
        base=base,
        now=request.app.state.clock.now(),
        org=getattr(request.state, "org", "commandpost"),
        **values,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
