"""Comms (guide §3-1 step 5): updates from per-kind templates, the severity's cadence, overdue reminders.

``comms_due_at`` = the last comms update (or the declaration) + the cadence of the current
severity; it is cleared once the incident is resolved. The engine writes one overdue
reminder per overdue period (period k starts at ``due + k × cadence``), made idempotent by
a conditional update of ``comms_reminded_for``: a second replica, or a second pass at the
same instant, finds nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal, or_, select, update
from sqlalchemy.orm import Session

from commandpost.errors import Unavailable
from commandpost.incidents import hooks, inputs, roles, rules, timeline
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig


def refresh_due(incident: Incident, config: OpsConfig) -> None:
    """Recompute ``comms_due_at`` from the current severity's cadence (none once resolved)."""
    if not rules.is_open(incident.status):
        incident.comms_due_at = None
        return
    base = incident.last_comms_at or incident.declared_at
    incident.comms_due_at = rules.comms_due(base, config.comms_cadence(incident.severity))


def template_values(incident: Incident, config: OpsConfig, *, at: datetime) -> dict[str, str]:
    cadence = config.comms_cadence(incident.severity)
    open_ = rules.is_open(incident.status)
    next_update = (
        timeline.local(at + cadence, config.settings.timezone, "%H:%M %Z") if cadence and open_ else "—"
    )
    return {
        "number": str(incident.number),
        "ref": rules.format_number(incident.number),
        "title": incident.title,
        "severity": incident.severity,
        "status": incident.status,
        "service": incident.service or "—",
        "impact": incident.impact or "under assessment",
        "summary": incident.summary or "",
        "channel": f"#{incident.channel}",
        "next_update": next_update,
    }


def render(incident: Incident, kind: str, config: OpsConfig, *, now: datetime) -> str:
    """The prefilled body of a ``kind`` update from ``commandpost.yaml`` (or the built-in template)."""
    kind = rules.choose(kind, rules.COMMS_KINDS, "comms kind")
    template = config.settings.comms.templates.get(kind) or rules.DEFAULT_COMMS_TEMPLATES[kind]  # type: ignore[call-overload]
    at = timeline.effective_now(incident, now)
    return rules.render_template(template, template_values(incident, config, at=at)).strip()


def post(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    audience: str,
    body: str | None,
    actor: str,
    config: OpsConfig,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    """Record a comms update (its body redacted) and restart the cadence from it. ``data`` adds to the
    entry's data (a status-page publication says what it published)."""
    timeline.ensure_writable(incident)
    kind = rules.choose(str(kind).strip().lower(), rules.COMMS_KINDS, "comms kind")
    audience = rules.choose(str(audience).strip().lower(), rules.AUDIENCES, "audience")
    text = inputs.text(body, "body") or render(incident, kind, config, now=now)
    at = timeline.effective_now(incident, now)
    incident.last_comms_at = at
    refresh_due(incident, config)
    entry = timeline.append(
        session,
        incident=incident,
        kind="comms",
        text=text,
        author=actor,
        now=now,
        data={
            "comms_kind": kind,
            "audience": audience,
            "next_due_at": incident.comms_due_at.isoformat() if incident.comms_due_at else None,
            **(data or {}),
        },
    )
    hooks.comms_posted(session, incident, entry, now)
    return entry


def _cadence(config: OpsConfig, severity: str) -> timedelta | None:
    return config.comms_cadence(severity)


def remind_due(session: Session, *, now: datetime) -> int:
    """Write one overdue reminder per incident and overdue period; return how many were written."""
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return 0
    candidates = session.scalars(
        select(Incident.id)
        .where(Incident.status.in_(rules.OPEN_STATUSES), Incident.comms_due_at <= now)
        .order_by(Incident.comms_due_at)
        .limit(200)
    ).all()
    done = 0
    for incident_id in candidates:
        incident = timeline.try_lock(session, incident_id=incident_id)
        if incident is None:
            continue
        due = incident.comms_due_at
        if due is None or not rules.is_open(incident.status):
            continue
        cadence = _cadence(config, incident.severity)
        period = rules.reminder_period(due, cadence, now)
        if period is None:
            continue
        claimed = session.execute(
            update(Incident)
            .where(
                Incident.id == incident.id,
                Incident.comms_due_at == due,
                or_(Incident.comms_reminded_for.is_(None), Incident.comms_reminded_for < period),
            )
            .values(comms_reminded_for=period)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue
        session.refresh(incident)
        entry = _reminder_entry(session, incident, config, due=due, period=period, now=now)
        hooks.comms_overdue(session, incident, entry, now)
        done += 1
    return done


def _reminder_entry(
    session: Session, incident: Incident, config: OpsConfig, *, due: datetime, period: datetime, now: datetime
) -> TimelineEntry:
    holder, _ = roles.holder(session, incident=incident, role="comms")
    cadence = _cadence(config, incident.severity)
    number = rules.format_number(incident.number)
    every = f"{incident.severity} cadence {format_duration(cadence)}" if cadence else incident.severity
    who = f"Comms: @{holder}" if holder else "nobody holds Comms yet"
    since = timeline.local(due, config.settings.timezone, "%H:%M %Z")
    return timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{number}: comms update overdue since {since} ({every}); {who} — "
        f"post one: commandpost comms {number} update",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={
            "reminder": "comms_overdue",
            "due_at": due.isoformat(),
            "period": period.isoformat(),
            "comms_holder": holder,
        },
    )


_AWAITING_COMMS = select(Incident.comms_due_at, Incident.comms_reminded_for, Incident.severity).where(
    Incident.status.in_([literal(status, Incident.status.type) for status in rules.OPEN_STATUSES]),
    Incident.comms_due_at.is_not(None),
)
"""Built once: :func:`next_reminder` runs twice an idle engine pass (``has_work``, ``next_due``). The
open statuses as bound literals: an ``IN`` of plain values is an expanding parameter, rendered into
the SQL anew on every execution (a third of this query's cost); the SQL is the same ``IN (?, ?, ?)``."""


def next_reminder(session: Session) -> datetime | None:
    """The earliest instant :func:`remind_due` has work. The engine asks every pass: with no open
    incident awaiting comms it answers from one query, without reading the ops revision."""
    rows = session.execute(_AWAITING_COMMS).all()
    if not rows:
        return None
    try:
        config = policy_service.current_config(session)
    except Unavailable:
        return None
    times = [
        rules.next_reminder_at(due, _cadence(config, severity), reminded)
        for due, reminded, severity in rows
        if due is not None
    ]
    return min((t for t in times if t is not None), default=None)
