"""What the public status page tells (guide §3-1 step 5): only what Comms or the IC published.

Read from ``public_update`` alone (:mod:`commandpost.incidents.publish`): an incident nobody
published is not there, whatever its severity or however it was opened, and a drill never is. A
service's state is the worst state the latest update of each incident the page still shows
unresolved gives it; the banner is the worst service state. The incidents listed are those still
unresolved in public and those updated in the last 7 days, each update with the state it was
published with. INC numbers and SEV labels are shown only when ``commandpost.yaml`` opts in
(``status_page``). Each service has 90 days of bars, each day the worst state published for it
that day (org timezone), and the share of the 90 days without a published outage. Scheduled
maintenance (:mod:`commandpost.incidents.maintenance`) is listed while upcoming or on, shows its
services "Under maintenance" while on, and counts as up; the feeds also tell what each window did
(:func:`feed_events`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from commandpost.incidents import maintenance, publish, rules
from commandpost.incidents.models import Incident, PublicUpdate
from commandpost.policy.opsfiles import OpsConfig

WINDOW = timedelta(days=7)
MAX_INCIDENTS = 50
MAX_UPDATES = 50
"""Per incident: the newest ones (a long incident's first updates are in the feed's history)."""
UPTIME_DAYS = 90
OUTAGES = ("partial_outage", "major_outage")
"""What uptime counts as down: a degraded or maintained service is up."""
BANNERS = {
    "operational": "All systems operational",
    "degraded": "Degraded performance",
    "partial_outage": "Partial outage",
    "major_outage": "Major outage",
    "maintenance": "Maintenance in progress",
}


@dataclass(frozen=True)
class Component:
    name: str
    description: str
    state: str

    @property
    def label(self) -> str:
        return publish.SERVICE_LABELS[self.state]


@dataclass(frozen=True)
class Update:
    id: int
    at: datetime
    title: str
    message: str
    state: str
    services: dict[str, str]

    @property
    def label(self) -> str:
        return publish.STATE_LABELS.get(self.state, self.state)

    @property
    def affected(self) -> list[tuple[str, str]]:
        """(service, its state's label), by name."""
        return [(name, publish.SERVICE_LABELS.get(s, s)) for name, s in sorted(self.services.items())]


@dataclass(frozen=True)
class PublicIncident:
    key: int
    """The id of its first public update: an anchor that tells nothing internal."""
    number: str | None
    severity: str | None
    updates: list[Update]
    """Newest first."""

    @property
    def title(self) -> str:
        return self.updates[0].title

    @property
    def state(self) -> str:
        return self.updates[0].state

    @property
    def resolved(self) -> bool:
        return self.state == "resolved"


@dataclass(frozen=True)
class Day:
    day: date
    state: str

    @property
    def label(self) -> str:
        return publish.SERVICE_LABELS[self.state]


@dataclass(frozen=True)
class Uptime:
    days: list[Day]
    """Oldest first, today last."""
    percent: float
    """Of the window so far, the share without a published outage, rounded down (never 100 with one)."""

    @property
    def label(self) -> str:
        return f"{self.percent:.2f}%"


@dataclass(frozen=True)
class Maintenance:
    id: int
    title: str
    message: str
    services: list[str]
    starts_at: datetime
    ends_at: datetime
    on: bool
    """In progress now (else upcoming)."""


@dataclass(frozen=True)
class StatusPage:
    components: list[Component]
    incidents: list[PublicIncident]
    """Unresolved first, then by their latest update, newest first."""
    uptime: dict[str, Uptime] = field(default_factory=dict)
    maintenance: list[Maintenance] = field(default_factory=list)
    """On now or upcoming, soonest first."""

    @property
    def overall(self) -> str:
        return publish.worst(c.state for c in self.components)

    @property
    def banner(self) -> str:
        return BANNERS[self.overall]

    @property
    def updates(self) -> list[tuple[PublicIncident, Update]]:
        """Every listed update with its incident, newest first (the feeds)."""
        rows = [(i, u) for i in self.incidents for u in i.updates]
        return sorted(rows, key=lambda row: row[1].id, reverse=True)


def read(session: Session, *, config: OpsConfig, now: datetime) -> StatusPage:
    """The status page at ``now``: components, and the incidents unresolved in public or recent."""
    newest = (
        select(PublicUpdate.incident_id, func.max(PublicUpdate.id).label("last_id"))
        .group_by(PublicUpdate.incident_id)
        .subquery()
    )
    rows = session.execute(
        select(Incident, PublicUpdate)
        .join(newest, newest.c.incident_id == Incident.id)
        .join(PublicUpdate, PublicUpdate.id == newest.c.last_id)
        .where(or_(PublicUpdate.state != "resolved", PublicUpdate.at >= now - WINDOW))
        .order_by(PublicUpdate.id.desc())
    ).all()
    shown = [(incident, last) for incident, last in rows if not publish.is_drill(incident)]
    unresolved = [(i, u) for i, u in shown if u.state != "resolved"]
    recent = [(i, u) for i, u in shown if u.state == "resolved"][: max(0, MAX_INCIDENTS - len(unresolved))]
    listed = unresolved + recent
    down: dict[str, list[str]] = defaultdict(list)
    for _incident, last in unresolved:
        for name, state in (last.services or {}).items():
            down[name].append(state)
    windows = [
        Maintenance(
            id=w.id,
            title=w.title,
            message=w.message,
            services=list(w.services),
            starts_at=w.starts_at,
            ends_at=w.ends_at,
            on=maintenance.is_on(w, now),
        )
        for w in maintenance.current(session, now=now)
    ]
    for window in windows:
        for name in window.services if window.on else ():
            down[name].append("maintenance")
    components = [
        Component(name=s.name, description=s.description, state=publish.worst(down.get(s.name, ())))
        for s in config.services
    ]
    return StatusPage(
        components=components,
        incidents=_incidents(session, config, listed),
        uptime=uptime(session, config=config, now=now),
        maintenance=windows,
    )


def feed_events(session: Session, *, now: datetime) -> list[maintenance.Event]:
    """For the feeds only (not the page, polled every few seconds): what the windows did (scheduled,
    started, completed, cancelled), while a window is not over and for :data:`WINDOW` after."""
    return maintenance.events(session, start=now - WINDOW, now=now)


Span = tuple[datetime, datetime, str]


def uptime(session: Session, *, config: OpsConfig, now: datetime) -> dict[str, Uptime]:
    """Each service's last :data:`UPTIME_DAYS` days from what was published: an update's services hold
    their states from it until the incident's next update (or now), unless it says resolved."""
    zone = ZoneInfo(config.settings.timezone)
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=UPTIME_DAYS - 1), time(), zone)
    held = (  # what each incident's last update before the window still said when it opened
        select(func.max(PublicUpdate.id)).where(PublicUpdate.at < start).group_by(PublicUpdate.incident_id)
    )
    rows = session.execute(
        select(PublicUpdate, Incident)
        .join(Incident, Incident.id == PublicUpdate.incident_id)
        .where(or_(PublicUpdate.at >= start, PublicUpdate.id.in_(held)))
        .order_by(PublicUpdate.incident_id, PublicUpdate.id)
    ).all()
    names = {s.name for s in config.services}
    spans: dict[str, list[Span]] = defaultdict(list)
    for n, (update, incident) in enumerate(rows):
        if update.state == "resolved" or publish.is_drill(incident):
            continue
        following = rows[n + 1][0] if n + 1 < len(rows) and rows[n + 1][1].id == incident.id else None
        begin, end = max(update.at, start), min(following.at if following else now, now)
        if end < begin:  # superseded before the window opened (an update published now still shows today)
            continue
        for name, state in (update.services or {}).items():
            if name in names and state != "operational":
                spans[name].append((begin, end, state))
    for planned in maintenance.since(session, start=start, now=now):
        until = min(planned.ends_at, planned.cancelled_at or planned.ends_at, now)
        for name in planned.services:
            if name in names and until > planned.starts_at:
                spans[name].append((max(planned.starts_at, start), until, "maintenance"))
    window = (now - start).total_seconds()
    out = {}
    for name in sorted(names):
        worst: dict[date, str] = {}
        for begin, end, state in spans[name]:
            day = begin.astimezone(zone).date()
            last = max(begin, end - timedelta(microseconds=1)).astimezone(zone).date()
            while day <= last:
                worst[day] = publish.worst((worst.get(day, "operational"), state))
                day += timedelta(days=1)
        down = _covered(sorted((b, e) for b, e, state in spans[name] if state in OUTAGES))
        share = 100.0 * (1 - down / window) if window > 0 else 100.0
        days = [today - timedelta(days=k) for k in range(UPTIME_DAYS - 1, -1, -1)]
        out[name] = Uptime(
            days=[Day(d, worst.get(d, "operational")) for d in days], percent=math.floor(share * 100) / 100
        )
    return out


def _covered(spans: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by sorted spans, overlaps counted once (two incidents down at the same time)."""
    total, reach = 0.0, None
    for begin, end in spans:
        if reach is not None and begin < reach:
            begin = reach
        if end > begin:
            total += (end - begin).total_seconds()
            reach = end if reach is None else max(reach, end)
    return total


def _incidents(
    session: Session, config: OpsConfig, listed: list[tuple[Incident, PublicUpdate]]
) -> list[PublicIncident]:
    if not listed:
        return []
    ids = [incident.id for incident, _ in listed]
    first = dict(
        session.execute(
            select(PublicUpdate.incident_id, func.min(PublicUpdate.id))
            .where(PublicUpdate.incident_id.in_(ids))
            .group_by(PublicUpdate.incident_id)
        ).all()
    )
    ranked = (
        select(
            PublicUpdate,
            func.row_number()
            .over(partition_by=PublicUpdate.incident_id, order_by=PublicUpdate.id.desc())
            .label("n"),
        )
        .where(PublicUpdate.incident_id.in_(ids))
        .subquery()
    )
    updates: dict[int, list[Update]] = defaultdict(list)
    for row in session.execute(select(ranked).where(ranked.c.n <= MAX_UPDATES).order_by(ranked.c.id.desc())):
        updates[row.incident_id].append(
            Update(
                id=row.id,
                at=row.at,
                title=row.title,
                message=row.message,
                state=row.state,
                services=dict(row.services or {}),
            )
        )
    shows = config.settings.status_page
    return [
        PublicIncident(
            key=first[incident.id],
            number=rules.format_number(incident.number) if shows.show_incident_numbers else None,
            severity=incident.severity if shows.show_severity else None,
            updates=updates[incident.id],
        )
        for incident, _last in listed
    ]
