"""Non-paging alerts told to the team channel (guide §2: SEV3 is handled within business hours).

An alert whose severity does not page opens no incident, so no escalation chain tells anyone.
The intake stores when the team should hear of it instead (``alert.notify_after``: at once within
business hours, else the next opening; SEV4 gets none). When that time comes the engine
(``paging.alert_notices``) calls :func:`announce`, which decides like an incident's FYIs: the
service's escalation policy, the route of the alert's severity, its ``notify`` targets. An alert
resolved before then is never announced — the channel is not woken for what already recovered.

A storm (or a backlog released at the opening) would bury the channel under one message per
alert, so the engine plans each pass (:func:`plan`): more than :data:`DIGEST_AFTER` alerts of one service
and severity that will be announced become one digest per recipient and channel
(:func:`announce_digest`); fewer are announced one by one.

Deciding clears ``notify_after`` with a conditional UPDATE on the value read, before anything is
queued, and every message has a key naming what it tells —
``alert-fyi/alert=<id>/to=<who>/channel=<channel>``, or for a digest
``alert-digest/service=<s>/severity=<sev>/first=<smallest alert id>/to=<who>/channel=<channel>``:
an alert is in one message per recipient and channel, however many engine replicas look at it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.errors import NotFound
from commandpost.notify import service as notify_service
from commandpost.paging import page, rules
from commandpost.paging.decider import Decider, destinations
from commandpost.policy.opsfiles import SeverityRoute
from commandpost.runbooks import service as runbooks_service

log = logging.getLogger("commandpost.paging")
KIND = "alert-fyi"
DIGEST_KIND = "alert-digest"
MAX_SUMMARY = 300
DIGEST_AFTER = 3
"""Up to this many alerts of one service and severity in a pass are announced one by one; more
become one digest."""
DIGEST_LISTED = 10
"""A digest lists this many alerts, then says how many more."""


@dataclass(frozen=True, slots=True)
class Notice:
    subject: str
    body: str
    payload: dict[str, Any]


def clear(session: Session, alert_id: int, due: datetime) -> bool:
    """Take the decision: ``notify_after`` → NULL if it is still ``due``. False: decided elsewhere."""
    result = session.execute(
        update(Alert)
        .where(Alert.id == alert_id, Alert.notify_after == due)
        .values(notify_after=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def notify_route(decider: Decider, alert: Alert) -> SeverityRoute | None:
    """The route of the alert's severity when it names someone to tell, else None."""
    policy = rules.policy_for(decider.config, alert.service)
    route = rules.route_for(policy, alert.severity)
    return route if route is not None and route.notify else None


def plan(decider: Decider, alerts: Sequence[Alert]) -> list[list[Alert]]:
    """The due alerts of a pass, in order, as the units decided together: an alert alone, or every
    alert of a (service, severity) that will be announced — not resolved, a route with ``notify``
    targets — when there are more than :data:`DIGEST_AFTER` of them (at its first alert's place)."""
    groups: dict[tuple[str | None, str], list[Alert]] = {}
    for alert in alerts:
        if alert.status != "resolved" and notify_route(decider, alert) is not None:
            groups.setdefault((alert.service, alert.severity), []).append(alert)
    digests = {alert.id: group for group in groups.values() if len(group) > DIGEST_AFTER for alert in group}
    units: list[list[Alert]] = []
    for alert in alerts:
        group = digests.get(alert.id)
        if group is None:
            units.append([alert])
        elif group[0] is alert:
            units.append(group)
    return units


def decide(session: Session, decider: Decider, unit: list[Alert]) -> int:
    """Decide a unit of :func:`plan`. Returns the messages queued."""
    if len(unit) == 1:
        return announce(session, decider, unit[0])
    return announce_digest(session, decider, unit)


def announce(session: Session, decider: Decider, alert: Alert) -> int:
    """Decide one alert whose ``notify_after`` has come: nothing if it was resolved meanwhile or its
    route notifies nobody, else one message per ``notify`` recipient and channel, due when the
    alert was (lateness is measured from it). Returns the messages queued."""
    due = alert.notify_after
    if due is None or not clear(session, alert.id, due):
        return 0
    if alert.status == "resolved":
        return 0
    route = notify_route(decider, alert)
    if route is None:
        return 0
    return _enqueue(
        session,
        decider,
        alert,
        route,
        build(decider, alert, route),
        due,
        KIND,
        {"alert": alert.id},
    )


def announce_digest(session: Session, decider: Decider, alerts: Sequence[Alert]) -> int:
    """Decide a group of :func:`plan` (one service and severity, all to be announced): clear each
    alert's ``notify_after`` as :func:`announce` does, then one message per recipient and channel
    for those cleared here, due when the earliest was. Returns the messages queued."""
    dues = [(alert, alert.notify_after) for alert in sorted(alerts, key=lambda a: a.id)]
    cleared = [(alert, due) for alert, due in dues if due is not None and clear(session, alert.id, due)]
    if not cleared:
        return 0
    first = cleared[0][0]
    route = notify_route(decider, first)
    if route is None:
        return 0
    return _enqueue(
        session,
        decider,
        first,
        route,
        build_digest(decider, [alert for alert, _due in cleared], route),
        min(due for _alert, due in cleared),
        DIGEST_KIND,
        {"service": first.service, "severity": first.severity, "first": first.id},
    )


def _enqueue(
    session: Session,
    decider: Decider,
    alert: Alert,
    route: SeverityRoute,
    notice: Notice,
    due: datetime,
    kind: str,
    key_parts: dict[str, Any],
) -> int:
    """Queue ``notice`` for every recipient of the route's ``notify`` targets (``alert`` gives the
    service and severity, and names the notice in logs); each message's key is ``kind`` with
    ``key_parts``, the recipient and the channel."""
    config = decider.config
    policy = rules.policy_for(config, alert.service)
    resolution = rules.resolve(policy, config, route.notify, decider.on_call(session))
    queued = 0
    for recipient in resolution.recipients:
        try:
            pairs = destinations(config, recipient, alert.severity)
        except NotFound as exc:
            log.warning("alert %s: cannot reach %s: %s", alert.id, recipient.label, exc.message)
            continue
        queued += notify_service.enqueue_each(
            session,
            destinations=pairs,
            kind=kind,
            key_parts={**key_parts, "to": recipient.person or f"#{recipient.team_channel}"},
            subject=notice.subject,
            body=notice.body,
            severity=alert.severity,
            incident_id=None,
            person=recipient.person,
            payload={**notice.payload, "target": recipient.target},
            now=decider.now,
            not_before=due,
        )
    for note in resolution.notes:
        log.info("alert %s (%s %s): %s", alert.id, alert.service, alert.severity, note)
    return queued


def build(decider: Decider, alert: Alert, route: SeverityRoute) -> Notice:
    """Subject ``[SEV3] <service>: <summary>``; the body says it is an FYI, what fired and how often,
    the runbook (and its first move), and where to look."""
    headline = f"[{alert.severity}] {alert.service}: {_summary(alert)}"
    since = decider.local(alert.first_seen_at, "%a %Y-%m-%d %H:%M %Z")
    lines = [
        headline,
        _fyi_line(alert, route),
        f"Alert: {_what(alert)} — fired {alert.count}× since {since} (alert {alert.id})",
    ]
    if alert.origin:
        lines.append(f"Source: {alert.origin}")
    if alert.status == "acknowledged":
        lines.append("Acknowledged at its source")
    link, runbook_lines = _runbook(decider, alert.runbook)
    lines += runbook_lines
    lines.append(_alerts_line(alert))
    payload = {"kind": KIND, "alert": alert.id, "service": alert.service, "runbook_url": link}
    return Notice(headline, "\n".join(lines), payload)


def build_digest(decider: Decider, alerts: Sequence[Alert], route: SeverityRoute) -> Notice:
    """Subject ``[SEV3] <service>: <N> alerts``; the body lists the first :data:`DIGEST_LISTED`
    (summary, what fired, how often, the runbook link when there is one), says how many more, that
    it is an FYI, and where to look at them all."""
    first = alerts[0]
    headline = f"[{first.severity}] {first.service}: {len(alerts)} alerts"
    lines = [headline, _fyi_line(first, route)]
    for alert in alerts[:DIGEST_LISTED]:
        link, _lines = _runbook(decider, alert.runbook)
        runbook = f" — runbook {link}" if link else ""
        lines.append(f"- {_summary(alert)} — {_what(alert)} ×{alert.count} (alert {alert.id}){runbook}")
    if len(alerts) > DIGEST_LISTED:
        lines.append(f"… and {len(alerts) - DIGEST_LISTED} more")
    lines.append(_alerts_line(first))
    payload = {
        "kind": DIGEST_KIND,
        "alerts": [a.id for a in alerts],
        "service": first.service,
        "severity": first.severity,
    }
    return Notice(headline, "\n".join(lines), payload)


def _summary(alert: Alert) -> str:
    summary = alert.summary or alert.alertname or alert.dedup_key
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…"


def _what(alert: Alert) -> str:
    return " ".join(p for p in (alert.source, alert.alertname) if p)


def _fyi_line(alert: Alert, route: SeverityRoute) -> str:
    return f"FYI, no page: {alert.severity} notifies {', '.join(route.notify)}; nobody is paged"


def _alerts_line(alert: Alert) -> str:
    return f"Alerts: commandpost alerts --service {alert.service} --status open"


def _runbook(decider: Decider, reference: str | None) -> tuple[str | None, list[str]]:
    """The runbook link and its lines: an ops runbook (with its first move), an external URL, or why
    there is none."""
    if not reference:
        return None, ["Runbook: none linked"]
    if reference.startswith(("https://", "http://")):
        return reference, [f"Runbook: {reference}"]
    runbook = decider.config.runbook(reference)
    if runbook is None:
        return None, [f"Runbook: '{reference}' is not in the applied ops folder"]
    link = page.runbook_url(decider.config, decider.base_url, reference)
    lines = [f"Runbook: {link}"]
    move = runbooks_service.first_move(runbook)
    if move is not None:
        lines.append(f"First move: {move.words}")
    return link, lines
