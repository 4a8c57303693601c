"""Incident use cases: declare, open from an alert, acknowledge, status, severity, entries, listing.

Every function takes the session and ``now``; the caller owns the transaction. Writers lock
the incident row first (``timeline.incident(..., for_update=True)`` or ``timeline.lock``) so the
entries of one incident are appended in commit order, then check, change, and append the
entry describing the change — in the same transaction.

Timestamps: each milestone (``acknowledged_at``, ``identified_at``, ``mitigated_at``,
``resolved_at``, ``closed_at``) is set the first time it is reached and never overwritten —
a reopen and a second resolution keep the first values, so metrics measure the first
response; the timeline keeps every later change. Resolving implies mitigation and closing
implies resolution, so skips fill those; ``identified_at`` is only set by reaching it.

Edits of the descriptive fields live in ``details.py``, input cleaning in ``inputs.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.engine import wakeup
from commandpost.errors import Conflict, ValidationFailed
from commandpost.incidents import comms, hooks, inputs, publish, roles, rules, timeline
from commandpost.incidents.models import Incident, IncidentCounter, TimelineEntry
from commandpost.notify import service as notify_service
from commandpost.policy import service as policy_service
from commandpost.policy.durations import format_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.security.redact import redact_text

COUNTER = "incident"


def config_of(session: Session) -> OpsConfig:
    return policy_service.current_config(session)


# ---------------------------------------------------------------- opening


def _default_runbook(config: OpsConfig, service: str | None) -> str | None:
    found = config.service(service) if service else None
    return found.default_runbook if found else None


def open_group_key(service: str, group_key: str | None) -> str:
    """The unique marker of "the open incident of this service and alert group" (a slug has no ':')."""
    return f"{service}:{group_key or ''}"


# ---------------------------------------------------------------- opening


def _next_number(session: Session) -> int:
    """INC-n, race-free on both databases: one atomic increment of the counter row."""
    bump = (
        update(IncidentCounter)
        .where(IncidentCounter.name == COUNTER)
        .values(value=IncidentCounter.value + 1)
        .returning(IncidentCounter.value)
        .execution_options(synchronize_session=False)
    )
    value = session.execute(bump).scalar()
    if value is not None:
        return int(value)
    start = (session.scalar(select(func.max(Incident.number))) or 0) + 1
    try:
        with session.begin_nested():
            session.add(IncidentCounter(name=COUNTER, value=start))
        return start
    except IntegrityError:  # another transaction created the row first
        return int(session.execute(bump).scalar_one())


def _channel(session: Session, config: OpsConfig, incident: Incident) -> str:
    name = rules.channel_name(
        config.settings.incident_channel_template,
        number=incident.number,
        title=incident.title,
        service=incident.service,
        severity=incident.severity,
        local_date=timeline.local(incident.declared_at, config.settings.timezone, "%Y-%m-%d"),
    )
    taken = session.scalar(select(Incident.id).where(Incident.channel == name, Incident.id != incident.id))
    return f"{name[:75]}-{incident.number}" if taken else name


def _insert(session: Session, config: OpsConfig, **values: Any) -> Incident:
    now: datetime = values["declared_at"]
    incident = Incident(
        number=_next_number(session),
        status="investigating",
        channel="",
        updated_at=now,
        summary=values.pop("summary", ""),
        impact=values.pop("impact", ""),
        labels=values.pop("labels", {}),
        data_loss=False,
        manual_intervention=False,
        reopen_count=0,
        **values,
    )
    incident.channel = _channel(session, config, incident)
    session.add(incident)
    session.flush()
    return incident


def _announce(session: Session, config: OpsConfig, incident: Incident, *, author: str, now: datetime) -> None:
    """The command post entry, the comms cadence, and the opened hook."""
    number = rules.format_number(incident.number)
    entry = timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{number}: command post is #{incident.channel}",
        author=author,
        now=now,
        data={"channel": incident.channel},
    )
    comms.refresh_due(incident, config)
    session.flush()
    hooks.command_post_opened(session, incident, entry, now)
    hooks.incident_opened(session, incident, now)


def declare(
    session: Session,
    *,
    title: str,
    severity: str | int,
    actor: str,
    now: datetime,
    service: str | None = None,
    summary: str | None = None,
    impact: str | None = None,
    impact_started_at: datetime | None = None,
    detected_at: datetime | None = None,
    ic: str | None = None,
    labels: Mapping[str, str] | None = None,
    page: bool = True,
) -> Incident:
    """A person declares an incident ("when in doubt, declare"): the declarer, or ``ic``, is IC.

    A paging severity on a service pages that service's on-call (the incident stays unacknowledged
    until they ack; the declarer is skipped when on call); ``page=False``, no service or a severity
    that does not page leave it acknowledged by the declarer, and the timeline says nobody is paged."""
    config = config_of(session)
    clean_title = inputs.text(title, "title", required=True, limit=inputs.MAX_TITLE)
    sev = rules.normalize_severity(severity)
    svc = inputs.service_name(config, service)
    actor = rules.clean_person(actor)
    commander = roles.known_person(config, ic) if ic else actor
    detected = detected_at or now
    inputs.check_times(impact_started_at, detected, now)
    rule = config.severities.get(sev)
    paged, paging_note = rules.declared_paging(
        severity=sev, pages=bool(rule and rule.paging), service=svc, page=page
    )
    incident = _insert(
        session,
        config,
        title=clean_title,
        severity=sev,
        service=svc,
        summary=inputs.text(summary, "summary"),
        impact=inputs.text(impact, "impact"),
        labels=inputs.labels(labels),
        detection="manual",
        created_by=actor,
        impact_started_at=impact_started_at,
        detected_at=detected,
        declared_at=now,
        acknowledged_at=None if paged else now,
        runbook=_default_runbook(config, svc),
        no_runbook=False,
    )
    number = rules.format_number(incident.number)
    where = f" on {svc}" if svc else ""
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{number} declared {sev}{where} by @{actor}: {clean_title}",
        author=actor,
        now=now,
        data={"severity": sev, "service": svc, "detection": "manual"},
    )
    roles.start_command(session, incident=incident, person=commander, by=actor, now=now)
    if rule and rule.paging and not paged:
        timeline.append(
            session,
            incident=incident,
            kind="system",
            text=f"{number}: {paging_note}",
            author=actor,
            now=now,
            data={"paging": False, "why": "no service" if not svc else "declared without paging"},
        )
    _announce(session, config, incident, author=actor, now=now)
    return incident


def open_or_attach(
    session: Session,
    *,
    service: str,
    severity: str,
    title: str,
    group_key: str | None,
    impact_started_at: datetime | None,
    detected_at: datetime | None,
    runbook: str | None,
    no_runbook: bool,
    source_summary: str,
    now: datetime,
) -> tuple[Incident, bool]:
    """The alert-routing entry point: attach to the service's open incident of this group, else open one.

    An incident opened here has ``detection='automatic'`` and no IC until someone acknowledges
    (the first acker becomes IC). Returns ``(incident, created)``. Two alerts racing for the
    same group end with one incident: ``open_group`` is unique, the loser attaches.
    """
    config = config_of(session)
    sev = rules.normalize_severity(severity)
    svc = inputs.service_name(config, service)
    if svc is None:
        raise ValidationFailed("open_or_attach needs a service", details={"field": "service"})
    key = open_group_key(svc, group_key)
    existing = _open_in_group(session, key)
    if existing is not None:
        return _attach(session, existing, sev=sev, title=title, source_summary=source_summary, now=now), False
    detected = min(detected_at or now, now)
    impact_at = min(impact_started_at, detected) if impact_started_at else None
    try:
        with session.begin_nested():
            incident = _insert(
                session,
                config,
                title=inputs.text(title, "title", required=True, limit=inputs.MAX_TITLE),
                severity=sev,
                service=svc,
                detection="automatic",
                created_by=rules.SYSTEM_AUTHOR,
                group_key=group_key,
                open_group=key,
                runbook=runbook,
                no_runbook=no_runbook,
                impact_started_at=impact_at,
                detected_at=detected,
                declared_at=now,
                acknowledged_at=None,
            )
    except IntegrityError:  # a concurrent alert opened it first: attach to theirs
        winner = _open_in_group(session, key)
        if winner is None:
            raise
        return _attach(session, winner, sev=sev, title=title, source_summary=source_summary, now=now), False
    number = rules.format_number(incident.number)
    timeline.append(
        session,
        incident=incident,
        kind="alert",
        text=f"{number} opened {sev} on {svc} from an alert: {source_summary or incident.title}",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={"severity": sev, "group_key": group_key, "runbook": runbook, "no_runbook": no_runbook},
    )
    _announce(session, config, incident, author=rules.SYSTEM_AUTHOR, now=now)
    return incident, True


def _open_in_group(session: Session, key: str) -> Incident | None:
    query = (
        select(Incident)
        .where(Incident.open_group == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def _attach(
    session: Session, incident: Incident, *, sev: str, title: str, source_summary: str, now: datetime
) -> Incident:
    incident = timeline.lock(session, incident=incident)
    number = rules.format_number(incident.number)
    timeline.append(
        session,
        incident=incident,
        kind="alert",
        text=f"{number}: alert attached ({sev}): {source_summary or title}",
        author=rules.SYSTEM_AUTHOR,
        now=now,
        data={"severity": sev, "title": redact_text(title)},
    )
    if rules.is_raise(incident.severity, sev):
        _set_severity(
            session,
            incident,
            new=sev,
            reason=f"an attached alert is {sev}",
            actor=rules.SYSTEM_AUTHOR,
            config=config_of(session),
            now=now,
        )
    return incident


# ---------------------------------------------------------------- lifecycle


def acknowledge(
    session: Session, *, incident: Incident, person: str, now: datetime, via: str | None = None
) -> Incident:
    """A responder acks: ``acknowledged_at`` is set once; with no IC yet, the acker becomes IC.
    ``via`` says how (``SMS``, ``voice``, ``push``, ``link``…; None: the web, API or CLI), for the
    timeline, the audit log and time to ack per method. The later steps of everyone's
    notification rules for this incident are not sent."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    person = rules.clean_person(person)
    number = rules.format_number(incident.number)
    first = incident.acknowledged_at is None
    if first:
        incident.acknowledged_at = timeline.effective_now(incident, now)
        incident.acknowledged_by, incident.acknowledged_via = person, via
        notify_service.cancel_steps(
            session, incident_id=incident.id, now=now, reason=f"{number} was acknowledged by @{person} first"
        )
    how = f" via {via}" if via else ""
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text=f"{number} acknowledged by @{person}{how}" + ("" if first else " (already acknowledged)"),
        author=person,
        now=now,
        data={"acknowledged": True, "first": first, "via": via},
    )
    if roles.ic_holder(session, incident=incident) is None:
        roles.start_command(session, incident=incident, person=person, by=person, now=now)
    return incident


def change_status(
    session: Session, *, incident: Incident, status: str, actor: str, now: datetime, note: str | None = None
) -> Incident:
    """Move along the status machine (409 listing the allowed next states otherwise). Closing while the
    status page shows the incident unresolved is refused (409): publish the resolved update first.

    Resolving or closing wakes the engine once the caller commits (``engine.wakeup``), so the
    postmortem criteria are evaluated and the draft written within a second, not at the next poll."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    number = rules.format_number(incident.number)
    move = rules.check_transition(incident.status, status, number=number)
    if move.target == "closed":
        publish.require_resolved_in_public(session, incident=incident)
    clean_note = inputs.text(note, "note")
    at = timeline.effective_now(incident, now)
    for stamp in move.stamps:
        if getattr(incident, stamp) is None:
            setattr(incident, stamp, at)
    incident.status = move.target
    if move.name == "reopen":
        incident.reopen_count += 1
    if not rules.is_open(move.target):
        incident.open_group = None
        notify_service.cancel_steps(
            session, incident_id=incident.id, now=now, reason=f"{number} was {move.target}"
        )
    comms.refresh_due(incident, config_of(session))
    word = "reopened" if move.name == "reopen" else f"{move.source} → {move.target}"
    timeline.append(
        session,
        incident=incident,
        kind="status",
        text=f"{number} {word} by @{actor}" + (f": {clean_note}" if clean_note else ""),
        author=actor,
        now=now,
        data={"from": move.source, "to": move.target, "transition": move.name, "note": clean_note or None},
    )
    if move.name == "reopen" and incident.detection == "automatic" and incident.service:
        _reclaim_group(session, incident)
    if move.target == "closed":
        roles.supersede_pending(session, incident=incident, why=f"{number} closed", now=now)
    if not rules.is_open(move.target):
        wakeup.request(session)  # after the commit: the postmortem criteria run now, not at the next poll
    return incident


def _reclaim_group(session: Session, incident: Incident) -> None:
    """A reopened alert incident takes its group back, unless a newer incident of that group is open."""
    session.flush()
    try:
        with session.begin_nested():
            session.execute(
                update(Incident)
                .where(Incident.id == incident.id)
                .values(open_group=open_group_key(incident.service or "", incident.group_key))
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        return
    session.refresh(incident, ["open_group"])


def _set_severity(
    session: Session,
    incident: Incident,
    *,
    new: str,
    reason: str,
    actor: str,
    config: OpsConfig,
    now: datetime,
) -> TimelineEntry:
    old = incident.severity
    incident.severity = new
    comms.refresh_due(incident, config)
    rule = config.severities[new]
    cadence = config.comms_cadence(new)
    due = timeline.local(incident.comms_due_at, config.settings.timezone, "%H:%M %Z")
    applies = [
        "pages" if rule.paging else "no paging",
        f"respond within {format_duration(rule.response_target)}",
        f"comms every {format_duration(cadence)} (next due {due})" if cadence else "no comms cadence",
    ]
    raised = rules.is_raise(old, new)
    by = "" if actor == rules.SYSTEM_AUTHOR else f" by @{actor}"
    entry = timeline.append(
        session,
        incident=incident,
        kind="severity",
        text=f"{rules.format_number(incident.number)}: severity {old} → {new}{by}: {reason} "
        f"— {new} rules: {', '.join(applies)}",
        author=actor,
        now=now,
        data={
            "from": old,
            "to": new,
            "reason": reason,
            "raised": raised,
            "paging": rule.paging,
            "comms_due_at": incident.comms_due_at.isoformat() if incident.comms_due_at else None,
        },
    )
    if raised:
        hooks.severity_raised(session, incident, old, new, now)
    return entry


def change_severity(
    session: Session, *, incident: Incident, severity: str | int, reason: str, actor: str, now: datetime
) -> Incident:
    """Change severity with a reason; the new severity's rules (cadence, paging via the hook) apply now."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    new = rules.normalize_severity(severity)
    why = inputs.text(reason, "reason", required=True, limit=2000)
    if new == incident.severity:
        raise Conflict(f"{rules.format_number(incident.number)} is already {new}", details={"severity": new})
    _set_severity(session, incident, new=new, reason=why, actor=actor, config=config_of(session), now=now)
    return incident


# ---------------------------------------------------------------- entries and reading


def add_entry(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    text: str,
    actor: str,
    now: datetime,
    corrects: int | None = None,
) -> TimelineEntry:
    """A person's note / action / decision. ``action`` is for the Ops holder only (guide §1-1)."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    kind = rules.choose(str(kind).strip().lower(), rules.POSTABLE_KINDS, "entry kind")
    body = inputs.text(text, "text", required=True)
    if kind == "action":
        roles.require_ops(session, incident=incident, person=actor)
    return timeline.append(
        session, incident=incident, kind=kind, text=body, author=actor, now=now, corrects_id=corrects
    )


def record(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    text: str,
    author: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    """For other domains: append an ``alert`` / ``page`` / ``runbook_step`` / … entry to an open incident."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    return timeline.append(
        session, incident=incident, kind=kind, text=text, author=author, now=now, data=data
    )


STATUS_FILTERS = (*rules.STATUSES, "open")


def list_incidents(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Newest first. ``status=open`` means not resolved or closed. Filter values are validated (422)."""
    if not 1 <= limit <= 500:
        raise ValidationFailed(f"limit must be between 1 and 500, not {limit}")
    query = select(Incident)
    if status:
        wanted = rules.choose(status.strip().lower(), STATUS_FILTERS, "status")
        statuses = rules.OPEN_STATUSES if wanted == "open" else (wanted,)
        query = query.where(Incident.status.in_(statuses))
    if severity:
        query = query.where(Incident.severity == rules.normalize_severity(severity))
    if service:
        query = query.where(Incident.service == inputs.service_name(config_of(session), service))
    return list(session.scalars(query.order_by(Incident.number.desc()).limit(limit)))
