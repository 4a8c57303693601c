"""Non-paging alerts told to the team channel (guide §2: SEV3 is handled within business hours).

An alert whose severity does not page opens no incident, so no escalation chain tells anyone.
The intake stores when the team should hear of it instead (``alert.notify_after``: at once within
business hours, else the next opening; SEV4 gets none). When that time comes the engine
(``paging.alert_notices``) calls :func:`announce`, which decides like an incident's FYIs: the
service's escalation policy, the route of the alert's severity, its ``notify`` targets. An alert
resolved before then is never announced — the channel is not woken for what already recovered.

Deciding clears ``notify_after`` with a conditional UPDATE on the value read, before anything is
queued, and every message has the key ``alert-fyi/alert=<id>/to=<who>/channel=<channel>``: an
alert is announced once, however many engine replicas look at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.errors import NotFound
from commandpost.notify import service as notify_service
from commandpost.notify.rules import message_key
from commandpost.paging import page, rules
from commandpost.paging.service import Decider, destinations
from commandpost.policy.schema import SeverityRoute

log = logging.getLogger("commandpost.paging")
KIND = "alert-fyi"
MAX_SUMMARY = 300


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


def announce(session: Session, decider: Decider, alert: Alert) -> int:
    """Decide one alert whose ``notify_after`` has come: nothing if it was resolved meanwhile or its
    route notifies nobody, else one message per ``notify`` recipient and channel, due when the
    alert was (lateness is measured from it). Returns the messages queued."""
    due = alert.notify_after
    if due is None or not clear(session, alert.id, due):
        return 0
    if alert.status == "resolved":
        return 0
    config = decider.config
    policy = rules.policy_for(config, alert.service)
    route = rules.route_for(policy, alert.severity)
    if route is None or not route.notify:
        return 0
    resolution = rules.resolve(policy, config, route.notify, decider.on_call(session))
    notice = build(decider, alert, route)
    queued = 0
    for recipient in resolution.recipients:
        try:
            pairs = destinations(config, recipient, alert.severity)
        except NotFound as exc:
            log.warning("alert %s: cannot reach %s: %s", alert.id, recipient.label, exc.message)
            continue
        to = recipient.person or f"#{recipient.team_channel}"
        for channel, destination in pairs:
            message = notify_service.enqueue(
                session,
                key=message_key(KIND, alert=alert.id, to=to, channel=channel),
                channel=channel,  # type: ignore[arg-type]
                destination=destination,
                subject=notice.subject,
                body=notice.body,
                severity=alert.severity,
                incident_id=None,
                person=recipient.person,
                payload={**notice.payload, "target": recipient.target},
                now=decider.now,
                not_before=due,
            )
            queued += message is not None
    for note in resolution.notes:
        log.info("alert %s (%s %s): %s", alert.id, alert.service, alert.severity, note)
    return queued


def build(decider: Decider, alert: Alert, route: SeverityRoute) -> Notice:
    """Subject ``[SEV3] <service>: <summary>``; the body says it is an FYI, what fired and how often,
    the runbook (and its first move), and where to look."""
    summary = alert.summary or alert.alertname or alert.dedup_key
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1] + "…"
    headline = f"[{alert.severity}] {alert.service}: {summary}"
    what = " ".join(p for p in (alert.source, alert.alertname) if p)
    since = decider.local(alert.first_seen_at, "%a %Y-%m-%d %H:%M %Z")
    lines = [
        headline,
        f"FYI, no page: {alert.severity} notifies {', '.join(route.notify)}; nobody is paged",
        f"Alert: {what} — fired {alert.count}× since {since} (alert {alert.id})",
    ]
    if alert.origin:
        lines.append(f"Source: {alert.origin}")
    if alert.status == "acknowledged":
        lines.append("Acknowledged at its source")
    link, runbook_lines = _runbook(decider, alert.runbook)
    lines += runbook_lines
    lines.append(f"Alerts: commandpost alerts --service {alert.service} --status open")
    payload = {"kind": KIND, "alert": alert.id, "service": alert.service, "runbook_url": link}
    return Notice(headline, "\n".join(lines), payload)


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
    move = page.first_move(runbook)
    if move is not None:
        lines.append(f"First move: {page.move_text(move)}")
    return link, lines
