"""Escalation use cases: start a chain, fire a level, acknowledge, escalate now, stop, read the pages.

Deciding is inserting: a fired level enqueues one outgoing message per (person, channel) with
the key (incident, chain, level, repeat, person, channel) and appends a ``page`` entry to the
incident's timeline; the notify sender sends after commit. Every change to an escalation row
is a conditional UPDATE on the (chain, level, repeat, state) it was read with, made *before*
anything is enqueued, so a decision is taken once even if two deciders race.

Acknowledging and resolving are read from the incident itself (``acknowledged_at``, status) when
a level falls due, so every way of acknowledging (API, CLI, web, the incidents service) stops the
chain without a hook; a source-side acknowledgement (PagerDuty ``acknowledge``) stops it here
directly. Services take a session and ``now``; they flush, never commit.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from commandpost.db.upsert import insert_for
from commandpost.engine import wakeup
from commandpost.errors import Conflict, NotFound
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.notify import service as notify_service
from commandpost.oncall import service as oncall_service
from commandpost.paging import page, rules
from commandpost.paging.models import Escalation
from commandpost.paging.rules import ACKNOWLEDGED, ACTIVE, RESOLVED, STOPPED, Level, Recipient
from commandpost.policy import service as policy_service
from commandpost.policy.schema import EscalationPolicy, OpsConfig, SeverityRoute

log = logging.getLogger("commandpost.paging")
AUTHOR = incident_rules.SYSTEM_AUTHOR


# ------------------------------------------------------------------ one deciding context


@dataclass
class Decider:
    """What one engine pass (or one API request) decides with: the applied config, the base URL,
    and per-instant caches (who is on call at ``now``, each incident's page text)."""

    config: OpsConfig
    base_url: str
    now: datetime
    _on_call: dict[tuple[str, str], str | None] = field(default_factory=dict)
    _texts: dict[int, page.PageText] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session, *, base_url: str, now: datetime) -> Decider:
        return cls(policy_service.current_config(session), base_url, now)

    def on_call(self, session: Session) -> rules.OnCall:
        def lookup(schedule: str, layer: str) -> str | None:
            key = (schedule, layer)
            if key not in self._on_call:
                self._on_call[key] = oncall_service.who_is_on_call(
                    session, self.config, schedule, layer, self.now
                )
            return self._on_call[key]

        return lookup

    def text(self, incident: Incident) -> page.PageText:
        found = self._texts.get(incident.id)
        if found is None or found.severity != incident.severity:
            found = self._texts[incident.id] = page.build(self.config, incident, base_url=self.base_url)
        return found

    def local(self, at: datetime | None, fmt: str = "%H:%M %Z") -> str:
        return timeline.local(at, self.config.settings.timezone, fmt) if at else "—"


def _paging(config: OpsConfig, severity: str) -> bool:
    rule = config.severities.get(severity)
    return bool(rule and rule.paging)


def chain_of(
    config: OpsConfig, incident: Incident
) -> tuple[EscalationPolicy | None, SeverityRoute | None, tuple[Level, ...]]:
    """The incident's policy, its severity's route, and the levels that page (none unless the
    severity pages: severities.yaml decides *whether*, the policy decides *whom*)."""
    policy = rules.policy_for(config, incident.service)
    route = rules.route_for(policy, incident.severity)
    levels = rules.levels_of(route) if route and _paging(config, incident.severity) else ()
    return policy, route, levels


# ------------------------------------------------------------------ starting


def start(session: Session, incident: Incident, now: datetime) -> None:
    """Start (or restart) the incident's chain for its current severity, due at once: the engine
    decides what it means (pages, FYIs, or telling the timeline a paging incident has nobody to
    page; nothing for a severity the policy does not route). One upsert and no reads, because this
    runs inside every incident opening — on the alert intake path."""
    values = {
        "policy": None,
        "severity": incident.severity,
        "level": 0,
        "repeat": 0,
        "fired": 0,
        "fyi_sent": False,
        "state": ACTIVE,
        "next_escalation_at": now,
        "started_at": now,
        "updated_at": now,
        "last_fired_at": None,
        "acknowledged_at": None,
        "acknowledged_by": None,
        "stopped_at": None,
        "stop_reason": None,
    }
    statement = insert_for(session, Escalation).values(incident_id=incident.id, chain=0, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["incident_id"], set_={**values, "chain": Escalation.chain + 1}
        ).execution_options(synchronize_session=False)
    )
    wakeup.request(session)


def restart(session: Session, incident: Incident, old: str, new: str, now: datetime) -> None:
    """Severity went up: the new severity's escalation starts over from its first level."""
    start(session, incident, now)


# ------------------------------------------------------------------ conditional row changes


def _move(session: Session, esc: Escalation, now: datetime, **values: Any) -> bool:
    """UPDATE the row only if it is still what we read; mirror the change on the object."""
    values["updated_at"] = now
    result = session.execute(
        update(Escalation)
        .where(
            Escalation.id == esc.id,
            Escalation.chain == esc.chain,
            Escalation.level == esc.level,
            Escalation.repeat == esc.repeat,
            Escalation.state == esc.state,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    for name, value in values.items():
        set_committed_value(esc, name, value)
    return True


def _note(session: Session, incident: Incident, text: str, now: datetime, data: dict[str, Any]) -> None:
    """A ``page`` entry on the timeline; a closed incident is read-only, so it gets none."""
    with contextlib.suppress(Conflict):
        incident_service.record(session, incident, kind="page", text=text, author=AUTHOR, now=now, data=data)


def stop(
    session: Session,
    esc: Escalation,
    incident: Incident,
    *,
    state: str,
    reason: str,
    now: datetime,
    note: bool,
) -> bool:
    """End the chain (resolved / stopped / acknowledged): nothing more fires by itself."""
    values: dict[str, Any] = {"state": state, "next_escalation_at": None, "stop_reason": reason[:300]}
    values["stopped_at"] = now if state != ACKNOWLEDGED else None
    if state == ACKNOWLEDGED:
        values["acknowledged_at"] = incident.acknowledged_at or now
    if not _move(session, esc, now, **values):
        return False
    if note:
        _note(session, incident, reason, now, {"escalation": state, "chain": esc.chain})
    return True


# ------------------------------------------------------------------ sending


def destinations(config: OpsConfig, recipient: Recipient, severity: str) -> list[tuple[str, str]]:
    """Where a recipient is told: a person's contact methods for ``severity``, or a team's channel."""
    if recipient.person:
        return notify_service.destinations_for_person(config, recipient.person, severity)
    return notify_service.destinations_for_team_channel(config, recipient.team_channel or "")


def _enqueue(
    session: Session,
    decider: Decider,
    incident: Incident,
    recipients: tuple[Recipient, ...],
    *,
    key_parts: dict[str, Any],
    kind: str,
    subject: str,
    body: str,
    payload: dict[str, Any],
    not_before: datetime | None = None,
) -> tuple[list[dict[str, Any]], list[str], int]:
    """One message per recipient and channel. Returns (who got what, problems, messages queued)."""
    reached: list[dict[str, Any]] = []
    problems: list[str] = []
    queued = 0
    for recipient in recipients:
        try:
            pairs = destinations(decider.config, recipient, incident.severity)
        except NotFound as exc:
            problems.append(f"{recipient.target}: cannot reach {recipient.label}: {exc.message}")
            continue
        to = recipient.person or f"#{recipient.team_channel}"
        queued += notify_service.enqueue_each(
            session,
            pairs,
            kind=kind,
            key_parts={**key_parts, "to": to},
            subject=subject,
            body=body,
            severity=incident.severity,
            incident_id=incident.id,
            person=recipient.person,
            payload={**payload, "target": recipient.target},
            now=decider.now,
            not_before=not_before,
        )
        reached.append(
            {
                "target": recipient.target,
                "person": recipient.person,
                "team_channel": recipient.team_channel,
                "why": recipient.why,
                "channels": [c for c, _ in pairs],
            }
        )
    return reached, problems, queued


def _label(reached: dict[str, Any]) -> str:
    return f"@{reached['person']}" if reached["person"] else f"#{reached['team_channel']}"


def _who(reached: list[dict[str, Any]]) -> str:
    return "; ".join(f"{_label(r)} ({r['target']}) via {', '.join(r['channels'])}" for r in reached)


def send_fyis(
    session: Session,
    decider: Decider,
    esc: Escalation,
    incident: Incident,
    policy: EscalationPolicy | None,
    route: SeverityRoute,
    *,
    due: datetime,
) -> int:
    """The route's ``notify`` targets, told once per severity (no ack needed). ``due`` is when they
    were due (lateness is measured from it)."""
    if not route.notify:
        return 0  # nothing to tell; the first level's move records fyi_sent
    if not _move(session, esc, decider.now, fyi_sent=True, policy=policy.name if policy else None):
        return 0
    now = decider.now
    resolution = rules.resolve(policy, decider.config, route.notify, decider.on_call(session))
    text = decider.text(incident)
    reached, problems, queued = _enqueue(
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
    _note(
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


def fire(
    session: Session,
    decider: Decider,
    esc: Escalation,
    incident: Incident,
    policy: EscalationPolicy | None,
    route: SeverityRoute,
    levels: tuple[Level, ...],
    *,
    level: int,
    repeat: int,
    state: str,
    due: datetime,
    by: str | None = None,
) -> int:
    """Page ``level`` of cycle ``repeat`` now; ``state`` is the row's state afterwards (only an
    ``active`` chain keeps a due time); ``due`` is when the level fell due (a page decided after a
    restart is measured, and marked late, from it). Returns the messages queued (0: someone else
    decided it)."""
    now = decider.now
    resolution = rules.resolve(policy, decider.config, levels[level].targets, decider.on_call(session))
    recipients = tuple(  # whoever declared the incident knows: never paged about it
        r
        for r in resolution.recipients
        if not (incident.detection == "manual" and r.person == incident.created_by)
    )
    after = rules.after_fire(
        levels,
        level=level,
        repeat=repeat,
        repeat_limit=route.repeat,
        at=now,
        reached=bool(recipients),
    )
    moved = _move(
        session,
        esc,
        now,
        level=after.level,
        repeat=after.repeat,
        fired=esc.fired + 1,
        last_fired_at=now,
        state=state,
        severity=incident.severity,
        policy=policy.name if policy else None,
        fyi_sent=True,
        next_escalation_at=after.at if state == ACTIVE else None,
        stopped_at=None,
        stop_reason=None,
    )
    if not moved:
        return 0
    text = decider.text(incident)
    where = rules.describe(levels, level, repeat, route.repeat)
    following = page_following = ""
    if state == ACTIVE and after.at is not None:
        names = ", ".join(levels[after.level].targets)
        following = page_following = f"Next: {names} at {decider.local(after.at)} unless acknowledged"
    elif state == ACTIVE:
        # the timeline is read beside the incident page's "Escalate now" button (and in the CLI):
        # it names no tool; the page itself, read on a phone, says how
        following = "This is the last level: nobody else is paged unless someone escalates by hand"
        page_following = (
            f"{following} (Escalate now on the incident page, or: commandpost escalate {text.number})"
        )
    reached, problems, queued = _enqueue(
        session,
        decider,
        incident,
        recipients,
        key_parts={"incident": text.number, "chain": esc.chain, "level": level, "repeat": repeat},
        kind="page",
        subject=text.subject(),
        body=text.page_body(f"{', '.join(levels[level].targets)} ({where})", page_following),
        payload=text.payload("page", level=level, repeat=repeat, chain=esc.chain, escalated_by=by),
        not_before=due,
    )
    notes = [*problems, *resolution.notes]
    head = f"{text.number}: escalated by @{by} — " if by else f"{text.number}: "
    if reached:
        line = f"{head}{incident.severity} paged {where}: {_who(reached)}"
    else:
        line = f"{head}{incident.severity} {where} reached nobody" + (
            "; the next level is due at once" if after.at is not None and state == ACTIVE else ""
        )
    if notes:
        line += f" — {'; '.join(notes)}"
    if following and reached:
        line += f". {following}"
    _note(
        session,
        incident,
        line,
        now,
        {
            "kind": "page",
            "severity": incident.severity,
            "chain": esc.chain,
            "level": level,
            "repeat": repeat,
            "to": [_label(r) for r in reached],
            "notes": notes,
            "status_page": resolution.status_page,
            "escalated_by": by,
            "next_at": after.at.isoformat() if after.at and state == ACTIVE else None,
        },
    )
    return queued


# ------------------------------------------------------------------ the engine's decision for one due row


def process(session: Session, decider: Decider, esc: Escalation, incident: Incident) -> int:
    """A due row: stop it if the incident is resolved or acknowledged, else tell the FYIs (once per
    chain) and fire the level that is due. Returns the messages queued (at least 1 if it acted)."""
    now = decider.now
    due = min(esc.next_escalation_at or now, now)
    number = incident_rules.format_number(incident.number)
    if not incident_rules.is_open(incident.status):
        stop(
            session,
            esc,
            incident,
            state=RESOLVED,
            reason=f"{number} is {incident.status}",
            now=now,
            note=False,
        )
        return 1
    config = decider.config
    policy, route, levels = chain_of(config, incident)
    if route is None:
        paging = _paging(config, incident.severity)
        missing = (
            f"policy '{policy.name}' has no {incident.severity} route" if policy else _no_policy(incident)
        )
        why = f"{number}: {incident.severity} pages but nobody can be paged: {missing}"
        if not paging:
            why = f"{number}: nothing to send for {incident.severity} ({missing})"
        _declarer_holds(incident)
        stop(session, esc, incident, state=STOPPED, reason=why, now=now, note=paging)
        return 1
    if not esc.fyi_sent and route.notify and not levels and _defer(session, decider, esc, incident, route):
        return 1
    work = 0
    if not esc.fyi_sent and route.notify:
        work = send_fyis(session, decider, esc, incident, policy, route, due=due)
    if not levels:
        _declarer_holds(incident)
        stop(
            session,
            esc,
            incident,
            state=STOPPED,
            reason=f"{incident.severity} pages nobody",
            now=now,
            note=False,
        )
        return work + 1
    if _declarer_on_call(session, decider, esc, incident, policy, levels):
        return work + 1
    if incident.acknowledged_at is not None:
        pending = ", ".join(levels[esc.level].targets) if esc.level < len(levels) else ""
        reason = f"{number} acknowledged at {decider.local(incident.acknowledged_at)}: escalation stopped" + (
            f" ({pending} not paged)" if pending and esc.fired else ""
        )
        stop(session, esc, incident, state=ACKNOWLEDGED, reason=reason, now=now, note=bool(esc.fired))
        return work + 1
    if esc.level >= len(levels):  # the route shrank under a running chain
        _move(session, esc, now, next_escalation_at=None)
        return work + 1
    if esc.fired == 0 and esc.repeat == 0 and esc.level == 0:
        first_due = esc.started_at + levels[0].after
        if first_due > now:  # a first level with its own delay: FYIs went now, the page waits
            _move(session, esc, now, next_escalation_at=first_due)
            return work + 1
    return (
        work
        + 1
        + fire(
            session,
            decider,
            esc,
            incident,
            policy,
            route,
            levels,
            level=esc.level,
            repeat=esc.repeat,
            state=ACTIVE,
            due=due,
        )
    )


def _declarer_holds(incident: Incident) -> None:
    """A declared incident that nobody can be paged for is its declarer's: acknowledged when declared."""
    if incident.detection == "manual" and incident.acknowledged_at is None:
        incident.acknowledged_at = incident.declared_at


def _declarer_on_call(
    session: Session,
    decider: Decider,
    esc: Escalation,
    incident: Incident,
    policy: EscalationPolicy | None,
    levels: tuple[Level, ...],
) -> bool:
    """The declarer is on call at the first level: they are on it, so nobody else is paged (the
    incident counts as acknowledged when declared). True when the chain stopped for that."""
    declarer = incident.created_by
    if incident.detection != "manual" or incident.acknowledged_at is not None or esc.fired or esc.repeat:
        return False
    first = rules.resolve(policy, decider.config, levels[0].targets, decider.on_call(session))
    reached = next((r for r in first.recipients if r.person == declarer), None)
    if reached is None:
        return False
    incident.acknowledged_at = incident.declared_at
    number = incident_rules.format_number(incident.number)
    why = f" ({reached.why})" if reached.why else ""
    stop(
        session,
        esc,
        incident,
        state=ACKNOWLEDGED,
        reason=f"{number}: @{declarer} is on call{why} and declared it: nobody else is paged",
        now=decider.now,
        note=True,
    )
    return True


def _defer(
    session: Session, decider: Decider, esc: Escalation, incident: Incident, route: SeverityRoute
) -> bool:
    """A route that pages nobody, outside business hours: decide again when they open (a resolve in
    between means the channel is never bothered). True when deferred."""
    opening = rules.fyi_not_before(decider.config, incident.severity, route, decider.now)
    if opening is None:
        return False
    _move(session, esc, decider.now, next_escalation_at=opening)
    number = incident_rules.format_number(incident.number)
    _note(
        session,
        incident,
        f"{number}: {incident.severity} pages nobody; {', '.join(route.notify)} will hear at "
        f"{decider.local(opening, '%a %Y-%m-%d %H:%M %Z')}, when business hours start",
        decider.now,
        {"kind": "fyi", "severity": incident.severity, "deferred_to": opening.isoformat()},
    )
    return True


def _no_policy(incident: Incident) -> str:
    if not incident.service:
        return "the incident has no service, so no escalation policy"
    return f"service '{incident.service}' has no escalation policy"


# ------------------------------------------------------------------ people acting


def _row(session: Session, incident: Incident, *, lock: bool) -> Escalation | None:
    query = select(Escalation).where(Escalation.incident_id == incident.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).first()


@dataclass(frozen=True)
class Escalated:
    escalation: Escalation
    queued: int


def escalate_now(
    session: Session, incident: Incident, *, actor: str, now: datetime, base_url: str
) -> Escalated:
    """ "When in doubt, escalate": page the next level now, acknowledged or not. An active chain goes
    on from there; an acknowledged one stays acknowledged. 409 when there is nobody to escalate to."""
    incident = timeline.lock(session, incident)
    timeline.ensure_writable(incident)
    number = incident_rules.format_number(incident.number)
    if not incident_rules.is_open(incident.status):
        raise Conflict(
            f"{number} is {incident.status}: there is nothing to escalate", details={"number": number}
        )
    decider = Decider.of(session, base_url=base_url, now=now)
    policy, route, levels = chain_of(decider.config, incident)
    if policy is None:
        raise Conflict(f"{number}: {_no_policy(incident)}; nobody to escalate to", details={"number": number})
    if route is None or not levels:
        raise Conflict(
            f"{number} is {incident.severity} and policy '{policy.name}' pages nobody for "
            f"{incident.severity}; raise the severity to page (commandpost sev {number} SEV2 --reason …)",
            details={"number": number, "severity": incident.severity},
        )
    esc = _row(session, incident, lock=True)
    if esc is None:
        start(session, incident, now)
        esc = _row(session, incident, lock=True)
        assert esc is not None
    level, repeat = rules.manual_level(levels, level=esc.level, repeat=esc.repeat)
    acknowledged = incident.acknowledged_at is not None or esc.state == ACKNOWLEDGED
    queued = send_fyis(session, decider, esc, incident, policy, route, due=now) if not esc.fyi_sent else 0
    if level != esc.level or repeat != esc.repeat:
        _move(session, esc, now, level=level, repeat=repeat)
    queued += fire(
        session,
        decider,
        esc,
        incident,
        policy,
        route,
        levels,
        level=level,
        repeat=repeat,
        state=ACKNOWLEDGED if acknowledged else ACTIVE,
        due=now,
        by=incident_rules.clean_person(actor),
    )
    if acknowledged and esc.acknowledged_at is None:
        _move(session, esc, now, acknowledged_at=incident.acknowledged_at or now)
    wakeup.request(session)
    return Escalated(esc, queued)


def acknowledge(session: Session, incident: Incident, *, by: str, now: datetime) -> bool:
    """Stop the chain because someone acknowledged where the alert came from (e.g. a PagerDuty
    ``acknowledge`` event). The incident's own acknowledgement (and IC) stays with a person."""
    esc = _row(session, incident, lock=True)
    if esc is None or esc.state != ACTIVE:
        return False
    number = incident_rules.format_number(incident.number)
    if not _move(
        session,
        esc,
        now,
        state=ACKNOWLEDGED,
        next_escalation_at=None,
        acknowledged_at=now,
        acknowledged_by=by,
    ):
        return False
    _note(
        session,
        incident,
        f"{number}: escalation stopped — acknowledged by {by}",
        now,
        {"escalation": ACKNOWLEDGED, "chain": esc.chain, "by": by},
    )
    return True


def acknowledge_number(session: Session, number: int, *, by: str, now: datetime) -> bool:
    """:func:`acknowledge` by incident number (the alert intake knows numbers)."""
    incident = session.scalars(select(Incident).where(Incident.number == number)).first()
    return incident is not None and acknowledge(session, incident, by=by, now=now)


# ------------------------------------------------------------------ reading


def escalation_of(session: Session, incident: Incident) -> Escalation | None:
    return _row(session, incident, lock=False)


def effective_state(esc: Escalation, incident: Incident) -> str:
    """The row's state, or what the engine will record at its next look (it reads lazily)."""
    if esc.state == ACTIVE and not incident_rules.is_open(incident.status):
        return RESOLVED
    if esc.state == ACTIVE and incident.acknowledged_at is not None:
        return ACKNOWLEDGED
    return esc.state
