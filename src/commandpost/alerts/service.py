"""Alert use cases: store, deduplicate and route normalized events; read alerts and recent changes.

:func:`ingest` is the pipeline every source shares. Per event, in the caller's transaction:
a delivery that names itself is claimed first (a retry changes nothing); a trigger bumps the
open alert with its key or opens one (see :mod:`commandpost.alerts.dedup`), and a new alert is
routed (:mod:`commandpost.alerts.rules`): a paging SEV opens or attaches to an incident, SEV3
is left for the team channel (``notify_after``: the engine's ``paging.alert_notices`` tells it
then), SEV4 is recorded only. Acknowledge and resolve change the open alert — never the
incident: a human verifies recovery (guide §3). Every event ends counted on an alert or
recorded as an ``alert_event`` row; nothing is silently dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from commandpost.alerts import dedup, hooks, rules, subscriptions, timebounds
from commandpost.alerts.models import ALERT_STATUSES, Alert, AlertEvent, ChangeEvent
from commandpost.alerts.normalized import NormalizedEvent
from commandpost.alerts.scrub import scrub
from commandpost.alerts.scrub import text as redact_text
from commandpost.engine import wakeup
from commandpost.errors import Conflict, NotFound, Unavailable, ValidationFailed
from commandpost.incidents import service as incident_service
from commandpost.incidents import timeline as incident_timeline
from commandpost.incidents.models import Incident
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig, Service
from commandpost.security import stored

MAX_RAW_BYTES = 16 * 1024
MAX_TITLE = 300
RECORD_ONLY = frozenset({"SEV4"})
CHANGES_BEFORE_DETECTION = timedelta(hours=24)
AUTHOR = "commandpost"
OUTCOMES = ("incident_opened", "attached", "deduplicated", "resolved", "recorded", "suppressed")


@dataclass(frozen=True)
class IntegrationRef:
    """Where an event arrived: the integration key's row and what ops declares about it."""

    id: int
    name: str
    service: str
    source: str
    rate_limit_per_minute: int | None = None
    topic_arns: tuple[str, ...] = ()


@dataclass(slots=True)
class Outcome:
    """What one event did; ``incident`` is the incident number when the alert belongs to one.
    (Not frozen, though never changed: a frozen dataclass costs several times more to build.)"""

    dedup_key: str
    outcome: str
    alert_id: int | None = None
    incident: int | None = None
    count: int | None = None
    severity: str | None = None
    unrunbooked_page: bool = False
    change_id: int | None = None


_events: Table = AlertEvent.__table__  # type: ignore[assignment]
stored_idempotency_key = stored.processor(_events.c.idempotency_key)


def integration_for_key(session: Session, *, key: str) -> IntegrationRef | None:
    """The active integration a key belongs to, with its ops declaration (rate limit, SNS topics)."""
    row = policy_service.integration_by_key(session, key=key)
    if row is None:
        return None
    config = policy_service.current_config(session)
    declared = next((i for _s, i in config.integrations() if i.name == row.name), None)
    return IntegrationRef(
        id=row.id,
        name=row.name,
        service=row.service,
        source=row.source,
        rate_limit_per_minute=declared.rate_limit_per_minute if declared else None,
        topic_arns=tuple(declared.topic_arns) if declared else (),
    )


def ingest(
    session: Session,
    *,
    integration: IntegrationRef,
    events: Sequence[NormalizedEvent],
    now: datetime,
    body: Any = None,
    config: OpsConfig | None = None,
    bounds: timebounds.TimeBounds = timebounds.DEFAULT,
    routed_as: Service | None = None,
) -> list[Outcome]:
    """Apply the events of one request in order. ``body`` (the parsed request) is stored, redacted,
    for events whose source gave no ``raw`` of their own. A source's start (or end) time outside
    ``bounds`` around ``now`` is bounded first and noted on the incident's timeline
    (:mod:`commandpost.alerts.timebounds`). ``routed_as``: the integration's service with other
    defaults (a heartbeat's own severity and runbook). Flushes, never commits."""
    config = config or policy_service.current_config(session)
    service = routed_as or config.service(integration.service)
    if _all_distinct_triggers(events):
        # A webhook of N firing alerts: bump every open one in one statement, then open the rest
        # in order. Distinct keys commute, so this is the same as applying them one by one. Only
        # a new alert's start is bounded: a repeat's is never read (and a long-firing alert's
        # every repeat would be copied to bound it).
        hits = dedup.bump_many(
            session, integration_id=integration.id, dedup_keys=[e.dedup_key for e in events], now=now
        )
        return [
            _repeat(session, event, hit, now)
            if (hit := hits.get(event.dedup_key)) is not None
            else _trigger(
                session,
                config,
                service,
                integration,
                timebounds.clamp(event, now, bounds),
                now,
                body,
                known_closed=True,
            )
            for event in events
        ]
    events = timebounds.clamp_all(events, now, bounds)
    return [_one(session, config, service, integration, event, now, body) for event in events]


def _all_distinct_triggers(events: Sequence[NormalizedEvent]) -> bool:
    if len(events) < 2:
        return False
    keys = set()
    for event in events:
        if event.action != "trigger" or event.kind != "alert" or event.idempotency_key:
            return False
        keys.add(event.dedup_key)
    return len(keys) == len(events)


def _one(
    session: Session,
    config: OpsConfig,
    service: Service | None,
    integration: IntegrationRef,
    event: NormalizedEvent,
    now: datetime,
    body: Any,
) -> Outcome:
    if event.kind == "change":
        return _change(session, integration, event, now)
    claimed = None
    if event.idempotency_key:
        claimed = dedup.claim_delivery(
            session, values=_event_values(integration, event, now, body, "pending")
        )
        if claimed is None:
            return _replayed(session, integration, event)
    if event.action == "trigger":
        result = _trigger(session, config, service, integration, event, now, body)
    elif event.action == "acknowledge":
        result = _acknowledge(session, integration, event, now)
    elif event.action == "resolve":
        result = _resolve(session, integration, event, now)
    else:
        result = Outcome(event.dedup_key, "recorded")
        if event.subscription is not None:
            subscriptions.record(
                session,
                integration_id=integration.id,
                integration=integration.name,
                service=integration.service,
                subscription=event.subscription,
                now=now,
            )
    if claimed is not None:
        dedup.finish_event(
            session,
            event_id=claimed,
            outcome=result.outcome,
            alert_id=result.alert_id,
            incident_id=_incident_id(result),
        )
    elif result.alert_id is None:
        dedup.record_event(session, values=_event_values(integration, event, now, body, result.outcome))
    return result


def _incident_id(result: Outcome) -> Any:
    if result.incident is None:
        return None
    return select(Incident.id).where(Incident.number == result.incident).scalar_subquery()


# ---------------------------------------------------------------- trigger


def _trigger(
    session: Session,
    config: OpsConfig,
    service: Service | None,
    integration: IntegrationRef,
    event: NormalizedEvent,
    now: datetime,
    body: Any,
    *,
    known_closed: bool = False,
) -> Outcome:
    """Bump the open alert with this key, else open one. ``known_closed``: a bump just found none."""
    for attempt in range(3):
        hit = (
            None
            if known_closed and attempt == 0
            else dedup.bump(session, integration_id=integration.id, dedup_key=event.dedup_key, now=now)
        )
        if hit is not None:
            return _repeat(session, event, hit, now)
        route = rules.route(config, service, event)
        outcome, notify_after = _unpaged_outcome(config, route, now)
        values = _alert_values(integration, event, route, outcome, notify_after, now, body)
        alert_id = dedup.insert_open(session, values=values)
        if alert_id is None:
            continue  # a concurrent first trigger opened it: count this one on theirs
        if not route.paging:
            if notify_after is not None and notify_after <= now:
                wakeup.request(session)  # the team channel hears of it in the engine's next pass
            return Outcome(event.dedup_key, outcome, alert_id, None, 1, route.severity)
        return _page(session, integration, event, route, alert_id, values, now)
    raise Unavailable(f"alert {event.dedup_key!r} kept changing under concurrent deliveries; retry")


def _repeat(session: Session, event: NormalizedEvent, hit: dedup.OpenAlert, now: datetime) -> Outcome:
    if hit.incident_number is not None and _is_milestone(hit.count):
        _note(session, hit.incident_number, f"alert repeated ×{hit.count}: {hit.summary}", now)
    return Outcome(event.dedup_key, "deduplicated", hit.id, hit.incident_number, hit.count)


def _unpaged_outcome(config: OpsConfig, route: rules.Route, now: datetime) -> tuple[str, datetime | None]:
    """SEV4: recorded only. Other non-paging SEVs tell the team channel — now, or when business hours
    start if the SEV is handled within business hours (``suppressed`` until then)."""
    if route.paging:
        return "incident_opened", None
    if route.severity in RECORD_ONLY:
        return "recorded", None
    level = config.severities.get(route.severity)
    if (
        level is not None
        and level.response_hours != "always"
        and not rules.within_business_hours(config, now)
    ):
        return "suppressed", rules.next_business_start(config, now)
    return "recorded", now


def _page(
    session: Session,
    integration: IntegrationRef,
    event: NormalizedEvent,
    route: rules.Route,
    alert_id: int,
    values: dict[str, Any],
    now: datetime,
) -> Outcome:
    summary = values["summary"] or values["alertname"] or event.dedup_key
    what = " ".join(p for p in (integration.source, values["alertname"]) if p)
    incident, created = incident_service.open_or_attach(
        session,
        service=integration.service,
        severity=route.severity,
        title=summary if len(summary) <= MAX_TITLE else summary[: MAX_TITLE - 1] + "…",
        group_key=route.group_key,
        impact_started_at=min(event.starts_at, now) if event.starts_at else None,
        detected_at=now,
        runbook=route.runbook,
        no_runbook=route.runbook is None,
        source_summary=f"{what}: {summary}",
        now=now,
    )
    outcome = "incident_opened" if created else "attached"
    dedup.link_incident(
        session, alert_id=alert_id, incident_id=incident.id, number=incident.number, outcome=outcome
    )
    if created:
        hooks.incident_opened(session, incident, now)
    bounded = timebounds.note(event)
    if bounded is not None:  # the impact start is not the source's word: say so, and why
        _note(session, incident.number, f"alert {summary}: {bounded[0]}", now, bounded[1])
    return Outcome(
        event.dedup_key,
        outcome,
        alert_id,
        incident.number,
        1,
        route.severity,
        unrunbooked_page=route.runbook is None,
    )


def _is_milestone(count: int) -> bool:
    """The 10th, 100th, 1000th … repeat gets a timeline entry; the others only bump the count."""
    return count >= 10 and str(count).rstrip("0") == "1"


def _note(
    session: Session, number: int, text: str, now: datetime, data: dict[str, Any] | None = None
) -> None:
    """An ``alert`` entry on the incident's timeline, unless the incident is closed (read-only)."""
    incident = incident_timeline.incident(session, number=number)
    with contextlib.suppress(Conflict):  # ensure_writable refuses before writing anything
        incident_service.record(
            session, incident=incident, kind="alert", text=text, author=AUTHOR, now=now, data=data
        )


# ---------------------------------------------------------------- acknowledge / resolve


def _acknowledge(
    session: Session, integration: IntegrationRef, event: NormalizedEvent, now: datetime
) -> Outcome:
    """The alert is acknowledged at its source. The incident is not: acknowledging makes the acker IC,
    and a monitoring tool cannot be IC — a person acknowledges the incident."""
    hit = dedup.acknowledge(session, integration_id=integration.id, dedup_key=event.dedup_key, now=now)
    if hit is None:
        return Outcome(event.dedup_key, "recorded")
    if hit.incident_number is not None:
        _note(
            session,
            hit.incident_number,
            f"alert acknowledged at its source ({integration.source}): {hit.summary}",
            now,
        )
        # …but someone took the page: escalation to the next level stops.
        hooks.acknowledged_at_source(session, hit.incident_number, f"{integration.source} ack", now)
    return Outcome(event.dedup_key, "recorded", hit.id, hit.incident_number, hit.count)


def _resolve(session: Session, integration: IntegrationRef, event: NormalizedEvent, now: datetime) -> Outcome:
    hit = dedup.resolve(
        session, integration_id=integration.id, dedup_key=event.dedup_key, now=now, ends_at=event.ends_at
    )
    if hit is None:
        return Outcome(event.dedup_key, "recorded")
    if hit.incident_number is not None:
        bounded = timebounds.note(event)
        _note(
            session,
            hit.incident_number,
            f"alert resolved after {hit.count} firing(s): {hit.summary} — the incident stays open "
            "until a responder verifies recovery" + (f" ({bounded[0]})" if bounded else ""),
            now,
            bounded[1] if bounded else None,
        )
    return Outcome(event.dedup_key, "resolved", hit.id, hit.incident_number, hit.count)


def _replayed(session: Session, integration: IntegrationRef, event: NormalizedEvent) -> Outcome:
    """A delivery seen before: answer what it did then, change nothing.

    The key is matched as the column stores it (``stored_idempotency_key``, idempotent): the row was
    written by the intake's own statement, and a key holding a secret is stored redacted with a digest."""
    row = session.execute(
        select(AlertEvent.alert_id, Incident.number)
        .outerjoin(Incident, Incident.id == AlertEvent.incident_id)
        .where(
            AlertEvent.integration_id == integration.id,
            AlertEvent.idempotency_key == stored_idempotency_key(event.idempotency_key),
        )
    ).first()
    alert_id, number = (row[0], row[1]) if row else (None, None)
    return Outcome(event.dedup_key, "deduplicated", alert_id, number)


# ---------------------------------------------------------------- change events


def _change(session: Session, integration: IntegrationRef, event: NormalizedEvent, now: datetime) -> Outcome:
    table = cast(Table, ChangeEvent.__table__)
    values = {
        "integration_id": integration.id,
        "service": integration.service,
        "summary": redact_text(event.summary),
        "origin": redact_text(event.source)[:200],
        "occurred_at": min(event.starts_at, now) if event.starts_at else now,
        "received_at": now,
        "details": scrub(event.details),
        "links": _links(event),
    }
    change_id = session.execute(insert(table).values(**values).returning(table.c.id)).scalar_one()
    return Outcome(event.dedup_key, "recorded", change_id=int(change_id))


# ---------------------------------------------------------------- row values


def _alert_values(
    integration: IntegrationRef,
    event: NormalizedEvent,
    route: rules.Route,
    outcome: str,
    notify_after: datetime | None,
    now: datetime,
    body: Any,
) -> dict[str, Any]:
    return {
        "integration_id": integration.id,
        "integration": integration.name,
        "service": integration.service,
        "source": integration.source,
        "dedup_key": event.dedup_key,
        "status": "triggered",
        "severity": route.severity,
        "paging": route.paging,
        "outcome": outcome,
        "rule": route.rule,
        "source_severity": event.source_severity[:50],
        "alertname": redact_text(event.alertname)[:200],
        "summary": redact_text(event.summary),
        "origin": redact_text(event.source)[:200],
        "group_key": route.group_key,
        "runbook": route.runbook[:500] if route.runbook else None,
        "no_runbook": route.paging and route.runbook is None,
        "labels": scrub(event.labels),
        "annotations": scrub(event.annotations),
        "details": scrub(event.details),
        "links": _links(event),
        "raw": stored_raw(event.raw if event.raw is not None else body),
        "count": 1,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "first_seen_at": now,
        "last_seen_at": now,
        "notify_after": notify_after,
    }


def _event_values(
    integration: IntegrationRef, event: NormalizedEvent, now: datetime, body: Any, outcome: str
) -> dict[str, Any]:
    return {
        "integration_id": integration.id,
        "idempotency_key": event.idempotency_key,
        "action": event.action,
        "dedup_key": event.dedup_key,
        "outcome": outcome,
        "summary": redact_text(event.summary),
        "received_at": now,
        "raw": stored_raw(event.raw if event.raw is not None else body),
    }


def _links(event: NormalizedEvent) -> list[dict[str, str]]:
    return [{"href": redact_text(link.href), "text": redact_text(link.text)} for link in event.links]


def stored_raw(raw: Any) -> dict[str, Any]:
    """The body as stored: redacted, and cut to :data:`MAX_RAW_BYTES` of JSON text when larger."""
    if raw is None:
        return {}
    clean = scrub(raw)
    text = orjson.dumps(clean)
    if len(text) > MAX_RAW_BYTES:
        return {"truncated": True, "bytes": len(text), "head": text[:MAX_RAW_BYTES].decode(errors="ignore")}
    return clean if isinstance(clean, dict) else {"body": clean}


# ---------------------------------------------------------------- reading


STATUS_FILTERS = (*ALERT_STATUSES, "open")


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    service: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[Alert]:
    """Newest first; ``status=open`` means triggered or acknowledged; ``before`` is an alert id cursor."""
    if not 1 <= limit <= 500:
        raise ValidationFailed(f"limit must be between 1 and 500, not {limit}", details={"field": "limit"})
    query = select(Alert)
    if status:
        wanted = status.strip().lower()
        if wanted not in STATUS_FILTERS:
            raise ValidationFailed(
                f"status {status!r} is not one of {', '.join(STATUS_FILTERS)}", details={"field": "status"}
            )
        query = query.where(
            Alert.status.in_(("triggered", "acknowledged") if wanted == "open" else (wanted,))
        )
    if service:
        query = query.where(Alert.service == service.strip())
    if before is not None:
        query = query.where(Alert.id < before)
    return list(session.scalars(query.order_by(Alert.id.desc()).limit(limit)))


def get_alert(session: Session, *, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", details={"alert": alert_id})
    return alert


def incident_alerts(session: Session, *, number: str | int) -> list[Alert]:
    incident = incident_timeline.incident(session, number=number)
    return list(session.scalars(select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id)))


def recent_changes(
    session: Session, *, service: str, since: datetime, until: datetime, limit: int = 50
) -> list[ChangeEvent]:
    """The service's change events between ``since`` and ``until``, newest first."""
    query = (
        select(ChangeEvent)
        .where(
            ChangeEvent.service == service, ChangeEvent.occurred_at >= since, ChangeEvent.occurred_at <= until
        )
        .order_by(ChangeEvent.occurred_at.desc(), ChangeEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def incident_changes(
    session: Session, *, number: str | int, now: datetime
) -> tuple[Incident, list[ChangeEvent]]:
    """An incident's "recent changes": its service's changes from 24 h before detection until now."""
    incident = incident_timeline.incident(session, number=number)
    if not incident.service:
        return incident, []
    since = incident.detected_at - CHANGES_BEFORE_DETECTION
    return incident, recent_changes(session, service=incident.service, since=since, until=now)
