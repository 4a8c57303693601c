"""Telling people: a route's FYIs (:func:`send_fyis`) and one level's page (:func:`fire`).

Deciding is inserting: each enqueues one outgoing message per (person, channel) with a key naming
what it tells — for a page (incident, chain, level, repeat, person, channel) — and appends a
``page`` entry to the incident's timeline; the notify sender sends after commit. The row moves
first (:func:`commandpost.paging.row.move`), so a level another decider took queues nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from commandpost.errors import NotFound
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.notify.service import Step
from commandpost.paging import rules
from commandpost.paging.decider import Decider, destinations, page_steps
from commandpost.paging.models import Escalation
from commandpost.paging.row import move, record
from commandpost.paging.rules import ACTIVE, Level, Position, Recipient
from commandpost.policy.opsfiles import EscalationPolicy, SeverityRoute


@dataclass(frozen=True)
class Chain:
    """An incident's escalation as it is decided: its row, the incident, the service's policy, the
    severity's route and the levels that page."""

    esc: Escalation
    incident: Incident
    policy: EscalationPolicy | None
    route: SeverityRoute
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Firing:
    """Which level of which cycle to page; ``state`` is the row's state afterwards (only an
    ``active`` chain keeps a due time); ``due`` is when the level fell due (a page decided after a
    restart is measured, and marked late, from it); ``by`` is who escalated by hand, if anyone."""

    level: int
    repeat: int
    state: str
    due: datetime
    by: str | None = None


Body = str | Callable[[str], str]
"""A message's text, or how to write it in a recipient's timezone (it names times)."""


def _minutes(after: timedelta) -> str:
    seconds = int(after.total_seconds())
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def enqueue(
    session: Session,
    decider: Decider,
    incident: Incident,
    recipients: tuple[Recipient, ...],
    *,
    key_parts: dict[str, Any],
    kind: str,
    subject: str,
    body: Body,
    payload: dict[str, Any],
    not_before: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[str], int]:
    """One message per recipient and channel — for a page, per step of the person's notification
    rules, each due ``after`` the page and sent only while unacknowledged. Each recipient reads the
    text in their own timezone. Returns (who got what, problems, messages queued)."""
    reached: list[dict[str, Any]] = []
    problems: list[str] = []
    queued = 0
    start = not_before or decider.now
    for recipient in recipients:
        try:
            if kind == "page":
                steps = page_steps(decider.config, recipient, incident.severity)
            else:
                steps = [
                    Step(timedelta(0), c, d)
                    for c, d in destinations(decider.config, recipient, incident.severity)
                ]
        except NotFound as exc:
            problems.append(f"{recipient.target}: cannot reach {recipient.label}: {exc.message}")
            continue
        to = recipient.person or f"#{recipient.team_channel}"
        text = body if isinstance(body, str) else body(decider.timezone_of(recipient))
        for after in sorted({step.after for step in steps}):
            later = {"after": _minutes(after)} if after else {}
            queued += notify_service.enqueue_each(
                session,
                destinations=[(s.channel, s.destination) for s in steps if s.after == after],
                kind=kind,
                key_parts={**key_parts, "to": to, **later},
                subject=subject,
                body=text,
                severity=incident.severity,
                incident_id=incident.id,
                person=recipient.person,
                payload={**payload, "target": recipient.target},
                now=decider.now,
                not_before=start + after if after or not_before else None,
            )
        reached.append(
            {
                "target": recipient.target,
                "person": recipient.person,
                "team_channel": recipient.team_channel,
                "why": recipient.why,
                "channels": list(
                    dict.fromkeys(
                        s.channel if not s.after else f"{s.channel} +{_minutes(s.after)}" for s in steps
                    )
                ),
            }
        )
    return reached, problems, queued


def _label(reached: dict[str, Any]) -> str:
    return f"@{reached['person']}" if reached["person"] else f"#{reached['team_channel']}"


def _who(reached: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_label(r)} ({r['target']}) via {', '.join(r['channels'])}" for r in reached)


def send_fyis(session: Session, decider: Decider, chain: Chain, *, due: datetime) -> int:
    """The route's ``notify`` targets, told once per severity (no ack needed). ``due`` is when they
    were due (lateness is measured from it)."""
    esc, incident, policy, route = chain.esc, chain.incident, chain.policy, chain.route
    if not route.notify:
        return 0  # nothing to tell; the first level's move records fyi_sent
    if not move(session, esc, decider.now, fyi_sent=True, policy=policy.name if policy else None):
        return 0
    now = decider.now
    resolution = rules.resolve(policy, decider.config, route.notify, decider.on_call(session))
    text = decider.text(incident)
    reached, problems, queued = enqueue(
        session,
        decider,
        incident,
        resolution.recipients,
        key_parts={"incident": text.number, "severity": incident.severity},
        kind="fyi",
        subject=text.subject(fyi=True),
        body=text.fyi_body(f"{incident.severity} notifies {', '.join(route.notify)}"),
        payload=text.payload("fyi"),
        not_before=due,
    )
    if reached and not queued:
        return 0  # this severity's FYIs went out before (the chain restarted): told once is enough
    notes = [*problems, *resolution.notes]
    summary = _who(reached) or "nobody reachable"
    record(
        session,
        incident,
        f"{text.number}: {incident.severity} FYI (no ack needed) to {summary}"
        + (f" — {'; '.join(notes)}" if notes else ""),
        now,
        {
            "kind": "fyi",
            "severity": incident.severity,
            "to": [_label(r) for r in reached],
            "notes": notes,
            "status_page": resolution.status_page,
        },
    )
    return queued


def fire(session: Session, decider: Decider, chain: Chain, firing: Firing) -> int:
    """Page ``firing.level`` of cycle ``firing.repeat`` now: whom, move the row (the decision), queue
    the messages, note it on the timeline. Returns the messages queued (0: someone else decided it)."""
    resolution = rules.resolve(
        chain.policy, decider.config, chain.levels[firing.level].targets, decider.on_call(session)
    )
    recipients = _not_the_declarer(chain.incident, resolution.recipients)
    after = rules.after_fire(
        chain.levels,
        level=firing.level,
        repeat=firing.repeat,
        repeat_limit=chain.route.repeat,
        at=decider.now,
        reached=bool(recipients),
    )
    if not _advance(session, decider.now, chain, firing, after):
        return 0
    text = decider.text(chain.incident)
    where = rules.describe(chain.levels, firing.level, firing.repeat, chain.route.repeat)
    following, page_following = _what_follows(decider, chain, firing, after, number=text.number)
    esc = chain.esc
    reached, problems, queued = enqueue(
        session,
        decider,
        chain.incident,
        recipients,
        key_parts={
            "incident": text.number,
            "chain": esc.chain,
            "level": firing.level,
            "repeat": firing.repeat,
        },
        kind="page",
        subject=text.subject(),
        body=lambda timezone: text.page_body(
            f"{', '.join(chain.levels[firing.level].targets)} ({where})", page_following(timezone)
        ),
        payload=text.payload(
            "page",
            level=firing.level,
            repeat=firing.repeat,
            chain=esc.chain,
            escalated_by=firing.by,
            urgency=notify_service.urgency_of(decider.config, chain.incident.severity),
        ),
        not_before=firing.due,
    )
    notes = [*problems, *resolution.notes]
    next_at = after.at if firing.state == ACTIVE else None
    line = _page_line(
        chain, firing, number=text.number, where=where, reached=reached, notes=notes, next_at=next_at
    )
    record(
        session,
        chain.incident,
        f"{line}. {following}" if following and reached else line,
        decider.now,
        {
            "kind": "page",
            "severity": chain.incident.severity,
            "chain": esc.chain,
            "level": firing.level,
            "repeat": firing.repeat,
            "to": [_label(r) for r in reached],
            "notes": notes,
            "status_page": resolution.status_page,
            "escalated_by": firing.by,
            "next_at": next_at.isoformat() if next_at else None,
        },
    )
    return queued


def _not_the_declarer(incident: Incident, recipients: tuple[Recipient, ...]) -> tuple[Recipient, ...]:
    """Whoever declared the incident knows: never paged about it."""
    return tuple(
        r for r in recipients if not (incident.detection == "manual" and r.person == incident.created_by)
    )


def _advance(session: Session, now: datetime, chain: Chain, firing: Firing, after: Position) -> bool:
    """Take the decision: the row moves to the level after this one (False: decided elsewhere)."""
    esc, incident, policy = chain.esc, chain.incident, chain.policy
    return move(
        session,
        esc,
        now,
        level=after.level,
        repeat=after.repeat,
        fired=esc.fired + 1,
        last_fired_at=now,
        state=firing.state,
        severity=incident.severity,
        policy=policy.name if policy else None,
        fyi_sent=True,
        next_escalation_at=after.at if firing.state == ACTIVE else None,
        stopped_at=None,
        stop_reason=None,
    )


def _what_follows(
    decider: Decider, chain: Chain, firing: Firing, after: Position, *, number: str
) -> tuple[str, Callable[[str], str]]:
    """What happens next unless someone acknowledges: for the timeline (the org's timezone), and for
    the page itself, in the recipient's timezone."""
    if firing.state != ACTIVE:
        return "", lambda timezone: ""
    at = after.at
    if at is not None:
        names = ", ".join(chain.levels[after.level].targets)
        return (
            f"Next: {names} at {decider.local(at)} unless acknowledged",
            lambda timezone: f"Next: {names} at {decider.local_for(at, timezone)} unless acknowledged",
        )
    # the timeline is read beside the incident page's "Escalate now" button (and in the CLI):
    # it names no tool; the page itself, read on a phone, says how
    following = "This is the last level: nobody else is paged unless someone escalates by hand"
    last = f"{following} (Escalate now on the incident page, or: commandpost escalate {number})"
    return following, lambda timezone: last


def _page_line(
    chain: Chain,
    firing: Firing,
    *,
    number: str,
    where: str,
    reached: list[dict[str, Any]],
    notes: list[str],
    next_at: datetime | None,
) -> str:
    """The timeline's line for a page: who was paged (or that nobody was), and any problems."""
    severity = chain.incident.severity
    head = f"{number}: escalated by @{firing.by} — " if firing.by else f"{number}: "
    if reached:
        line = f"{head}{severity} paged {where}: {_who(reached)}"
    else:
        line = f"{head}{severity} {where} reached nobody" + (
            "; the next level is due at once" if next_at is not None else ""
        )
    return f"{line} — {'; '.join(notes)}" if notes else line
