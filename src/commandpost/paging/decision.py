"""The engine's decision for one due escalation row (:func:`process`).

Acknowledging and resolving are read from the incident itself (``acknowledged_at``, status) when a
level falls due, so every way of acknowledging (API, CLI, web, the incidents service) stops the
chain without a hook. A row that is still wanted tells the FYIs (once per chain) and fires the
level that is due.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.paging import rules
from commandpost.paging.decider import Decider, chain_of, no_policy, pages
from commandpost.paging.firing import Chain, Firing, fire, send_fyis
from commandpost.paging.models import Escalation
from commandpost.paging.row import move, record, stop
from commandpost.paging.rules import ACKNOWLEDGED, ACTIVE, RESOLVED, STOPPED


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
    if incident_rules.is_drill(incident.labels):  # labelled a drill while its chain ran
        stop(
            session,
            esc,
            incident,
            state=STOPPED,
            reason=f"{number} is a drill: the on-call is not paged",
            now=now,
            note=True,
        )
        return 1
    config = decider.config
    policy, route, levels = chain_of(config, incident)
    if route is None:
        paging = pages(config, incident.severity)
        missing = (
            f"policy '{policy.name}' has no {incident.severity} route" if policy else no_policy(incident)
        )
        why = f"{number}: {incident.severity} pages but nobody can be paged: {missing}"
        if not paging:
            why = f"{number}: nothing to send for {incident.severity} ({missing})"
        _declarer_holds(incident)
        stop(session, esc, incident, state=STOPPED, reason=why, now=now, note=paging)
        return 1
    chain = Chain(esc, incident, policy, route, levels)
    if not esc.fyi_sent and route.notify and not levels and _defer(session, decider, chain):
        return 1
    work = 0
    if not esc.fyi_sent and route.notify:
        work = send_fyis(session, decider, chain, due=due)
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
    if _declarer_on_call(session, decider, chain):
        return work + 1
    if incident.acknowledged_at is not None:
        pending = ", ".join(levels[esc.level].targets) if esc.level < len(levels) else ""
        reason = f"{number} acknowledged at {decider.local(incident.acknowledged_at)}: escalation stopped" + (
            f" ({pending} not paged)" if pending and esc.fired else ""
        )
        stop(session, esc, incident, state=ACKNOWLEDGED, reason=reason, now=now, note=bool(esc.fired))
        return work + 1
    if esc.level >= len(levels):  # the route shrank under a running chain
        move(session, esc, now, next_escalation_at=None)
        return work + 1
    if esc.fired == 0 and esc.repeat == 0 and esc.level == 0:
        first_due = esc.started_at + levels[0].after
        if first_due > now:  # a first level with its own delay: FYIs went now, the page waits
            move(session, esc, now, next_escalation_at=first_due)
            return work + 1
    return work + 1 + fire(session, decider, chain, Firing(esc.level, esc.repeat, ACTIVE, due))


def _declarer_holds(incident: Incident) -> None:
    """A declared incident that nobody can be paged for is its declarer's: acknowledged when declared."""
    if incident.detection == "manual" and incident.acknowledged_at is None:
        incident.acknowledged_at = incident.declared_at


def _declarer_on_call(session: Session, decider: Decider, chain: Chain) -> bool:
    """The declarer is on call at the first level: they are on it, so nobody else is paged (the
    incident counts as acknowledged when declared). True when the chain stopped for that."""
    esc, incident = chain.esc, chain.incident
    declarer = incident.created_by
    if incident.detection != "manual" or incident.acknowledged_at is not None or esc.fired or esc.repeat:
        return False
    first = rules.resolve(chain.policy, decider.config, chain.levels[0].targets, decider.on_call(session))
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


def _defer(session: Session, decider: Decider, chain: Chain) -> bool:
    """A route that pages nobody, outside business hours: decide again when they open (a resolve in
    between means the channel is never bothered). True when deferred."""
    incident, route = chain.incident, chain.route
    opening = rules.fyi_not_before(decider.config, incident.severity, route, decider.now)
    if opening is None:
        return False
    move(session, chain.esc, decider.now, next_escalation_at=opening)
    number = incident_rules.format_number(incident.number)
    record(
        session,
        incident,
        f"{number}: {incident.severity} pages nobody; {', '.join(route.notify)} will hear at "
        f"{decider.local(opening, '%a %Y-%m-%d %H:%M %Z')}, when business hours start",
        decider.now,
        {"kind": "fyi", "severity": incident.severity, "deferred_to": opening.isoformat()},
    )
    return True
