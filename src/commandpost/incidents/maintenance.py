"""Scheduled maintenance on the public status page (issue 18): planned work, announced by a person.

A window names its services, when it starts and ends, and a public title and message. Before it
starts the status page lists it as upcoming; while it is on (``starts_at <= now < ends_at``, from
the injected clock) its services read "Under maintenance" — unless a published incident says worse
— and then go back by themselves. Uptime counts maintenance as up. Cancelling keeps the row (who
and when) and ends the window at once.

Confirmed email subscribers are told when a window is scheduled and when it is cancelled (the
feeds also say when it starts and ends: :func:`events`). Who may schedule or cancel: an
admin; or a responder who speaks for every service named — a member of the team that owns it, or
the Comms holder or IC of an open incident on it (emergency work).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from commandpost.errors import Conflict, Forbidden, NotFound, ValidationFailed
from commandpost.incidents import inputs, publish, roles, rules, subscribers
from commandpost.incidents.models import Incident, MaintenanceWindow
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security.rules import Principal

MAX_LENGTH = timedelta(days=14)
"""Longer planned work is announced as several windows (a "maintenance" banner for weeks says nothing)."""
MAX_AHEAD = timedelta(days=366)
MAX_SERVICES = 50
MAX_LISTED = 50


def is_on(window: MaintenanceWindow, now: datetime) -> bool:
    return window.cancelled_at is None and window.starts_at <= now < window.ends_at


def _names(config: OpsConfig, services: Sequence[str]) -> list[str]:
    if not services:
        raise ValidationFailed("services: name at least one service", details={"field": "services"})
    if len(services) > MAX_SERVICES:
        raise ValidationFailed(
            f"services: at most {MAX_SERVICES} in one window", details={"field": "services"}
        )
    out: list[str] = []
    for given in services:
        name = inputs.service_name(config, str(given)[:200])
        if name is None:
            raise ValidationFailed("services: a service name is blank", details={"field": "services"})
        if name not in out:
            out.append(name)
    return sorted(out)


def _speaks_for(session: Session, config: OpsConfig, person: str, service: str) -> bool:
    owner = config.service(service)
    team = config.team(owner.owner) if owner else None
    if team is not None and person in team.members:
        return True
    open_ = session.scalars(
        select(Incident).where(Incident.service == service, Incident.status.in_(rules.OPEN_STATUSES))
    )
    for incident in open_:
        comms, _ = roles.holder(session, incident=incident, role="comms")
        if person in (comms, roles.ic_holder(session, incident=incident)):
            return True
    return False


def require_may_schedule(
    session: Session, *, principal: Principal, config: OpsConfig, services: Iterable[str]
) -> None:
    """403 unless the caller is an admin or speaks for every service (see the module's docstring)."""
    if principal.is_admin:
        return
    refused = [s for s in services if not _speaks_for(session, config, principal.person, s)]
    if refused:
        raise Forbidden(
            f"only an admin, a member of the owning team, or the Comms holder or IC of an open incident "
            f"on it schedules maintenance for {', '.join(refused)}",
            details={"services": refused, "you": principal.person},
        )


def schedule(
    session: Session,
    *,
    config: OpsConfig,
    principal: Principal,
    title: str,
    message: str,
    services: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> MaintenanceWindow:
    """A new window (422 for a bad one: nothing stored)."""
    public_title = publish.public_text(title, "title", limit=inputs.MAX_TITLE, required=True)
    text = publish.public_text(message, "message", limit=publish.MAX_MESSAGE, required=True)
    names = _names(config, services)
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at must be after starts_at", details={"field": "ends_at"})
    if ends_at <= now:
        raise ValidationFailed(
            "ends_at is in the past: nothing left to announce", details={"field": "ends_at"}
        )
    if ends_at - starts_at > MAX_LENGTH:
        raise ValidationFailed(
            f"a window lasts at most {MAX_LENGTH.days} days; announce longer work as several",
            details={"field": "ends_at"},
        )
    if starts_at - now > MAX_AHEAD:
        raise ValidationFailed("starts_at is more than a year ahead", details={"field": "starts_at"})
    require_may_schedule(session, principal=principal, config=config, services=names)
    window = MaintenanceWindow(
        title=public_title,
        message=text,
        services=names,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=principal.person,
        created_at=now,
    )
    session.add(window)
    session.flush()
    subscribers.announce(
        session,
        key=f"maintenance:{window.id}",
        subject=f"Scheduled maintenance: {public_title}",
        body=f"{text}\n\n{when(window)}",
        now=now,
    )
    return window


def when(window: MaintenanceWindow) -> str:
    """The public line that says when and what: "2026-06-25 01:00 – 2026-06-25 02:00 UTC · api, web"."""
    return (
        f"{window.starts_at.astimezone(UTC):%Y-%m-%d %H:%M} – "
        f"{window.ends_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC · {', '.join(window.services)}"
    )


def cancel(
    session: Session, *, config: OpsConfig, principal: Principal, window_id: int, now: datetime
) -> MaintenanceWindow:
    """Cancel a window not yet over (409 for one over or cancelled already)."""
    window = session.get(MaintenanceWindow, window_id, with_for_update=True)
    if window is None:
        raise NotFound(f"no maintenance window {window_id}", details={"id": window_id})
    require_may_schedule(session, principal=principal, config=config, services=window.services)
    if window.cancelled_at is not None:
        raise Conflict(f"maintenance window {window_id} is already cancelled", details={"id": window_id})
    if window.ends_at <= now:
        raise Conflict(
            f"maintenance window {window_id} is over; nothing to cancel", details={"id": window_id}
        )
    window.cancelled_at, window.cancelled_by = now, principal.person
    session.flush()
    event = Event.of(window, "ended_early" if window.starts_at < now else "cancelled", now)
    subscribers.announce(
        session,
        key=f"maintenance-cancelled:{window.id}",
        subject=f"{event.label}: {window.title}",
        body=event.text,
        now=now,
    )
    return window


LABELS = {
    "scheduled": "Scheduled maintenance",
    "started": "Maintenance in progress",
    "completed": "Maintenance completed",
    "cancelled": "Maintenance cancelled",
    "ended_early": "Maintenance ended early",
}


@dataclass(frozen=True)
class Event:
    """One thing a window did, as the feeds and emails tell it: what a subscriber reads about planned
    work is that it was announced, began, and ended — or was called off."""

    window: int
    kind: str
    at: datetime
    title: str
    message: str
    services: list[str]
    when: str

    @classmethod
    def of(cls, window: MaintenanceWindow, kind: str, at: datetime) -> Event:
        return cls(
            window=window.id,
            kind=kind,
            at=at.astimezone(UTC),
            title=window.title,
            message=window.message,
            services=list(window.services),
            when=when(window),
        )

    @property
    def label(self) -> str:
        return LABELS[self.kind]

    @property
    def text(self) -> str:
        """The public message where it is news (scheduled), else a sentence about the plan."""
        if self.kind == "scheduled":
            return f"{self.message}\n\n{self.when}"
        said = {
            "started": "The planned maintenance has begun.",
            "completed": "The planned maintenance is over.",
            "cancelled": "The planned maintenance will not take place.",
            "ended_early": f"The planned maintenance ended early, at {self.at:%H:%M} UTC.",
        }
        return f"{said[self.kind]}\n\n{self.when}"


def events(session: Session, *, start: datetime, now: datetime) -> list[Event]:
    """What the windows did up to ``now``, for the feeds: every event of each window not over, or over
    (ended or cancelled) since ``start``; newest first."""
    query = select(MaintenanceWindow).where(
        func.coalesce(MaintenanceWindow.cancelled_at, MaintenanceWindow.ends_at) >= start
    )
    found: list[Event] = []
    for window in session.scalars(query.order_by(MaintenanceWindow.id.desc()).limit(MAX_LISTED)):
        found.append(Event.of(window, "scheduled", window.created_at))
        stop = window.cancelled_at
        if window.starts_at <= now and (stop is None or stop > window.starts_at):
            found.append(Event.of(window, "started", window.starts_at))
        if stop is not None:
            found.append(Event.of(window, "ended_early" if stop > window.starts_at else "cancelled", stop))
        elif window.ends_at <= now:
            found.append(Event.of(window, "completed", window.ends_at))
    return sorted(found, key=lambda e: (e.at, e.window, list(LABELS).index(e.kind)), reverse=True)


def current(session: Session, *, now: datetime) -> list[MaintenanceWindow]:
    """Windows on now or still to come, soonest first."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.ends_at > now, MaintenanceWindow.cancelled_at.is_(None)
    )
    return list(
        session.scalars(query.order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id).limit(MAX_LISTED))
    )


def since(session: Session, *, start: datetime, now: datetime) -> list[MaintenanceWindow]:
    """Windows that were on at some time in ``[start, now]`` (uptime): a cancelled one until it was."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.ends_at > start,
        MaintenanceWindow.starts_at <= now,
        or_(
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.cancelled_at > MaintenanceWindow.starts_at,
        ),
    )
    return list(session.scalars(query.order_by(MaintenanceWindow.id)))


def listing(session: Session, *, now: datetime, include_past: bool = False) -> list[MaintenanceWindow]:
    """For the API and CLI: current and upcoming (with ``include_past``, every window, newest first)."""
    if not include_past:
        return current(session, now=now)
    query = select(MaintenanceWindow).order_by(
        MaintenanceWindow.starts_at.desc(), MaintenanceWindow.id.desc()
    )
    return list(session.scalars(query.limit(200)))
