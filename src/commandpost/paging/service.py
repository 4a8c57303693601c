"""Escalation use cases: start a chain, escalate now, acknowledge at the source, read a chain.

The engine decides what a started chain means (:mod:`commandpost.paging.decision`); a level is paged by
:mod:`commandpost.paging.firing`; every change to the row is conditional
(:mod:`commandpost.paging.row`). Acknowledging and resolving are read from the incident itself, so
only a source-side acknowledgement (PagerDuty ``acknowledge``) stops a chain here directly.
Services take a session and ``now``; they flush, never commit. Arguments after the session are
keyword-only, except :func:`start` and :func:`restart`: the incidents seams call them by position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from commandpost.db.upsert import insert_for
from commandpost.engine import wakeup
from commandpost.errors import Conflict
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.paging import rules
from commandpost.paging.decider import Decider, chain_of, no_policy
from commandpost.paging.firing import Chain, Firing, fire, send_fyis
from commandpost.paging.models import Escalation
from commandpost.paging.row import find, move, record
from commandpost.paging.rules import ACKNOWLEDGED, ACTIVE

# ------------------------------------------------------------------ starting


def start(session: Session, incident: Incident, now: datetime) -> None:
    """Start (or restart) the incident's chain for its current severity, due at once: the engine
    decides what it means (pages, FYIs, or telling the timeline a paging incident has nobody to
    page; nothing for a severity the policy does not route). One upsert and no reads, because this
    runs inside every incident opening — on the alert intake path.

    A drill (label ``drill=true``) starts no chain: it never pages the on-call. The drill itself
    (``commandpost.drills``) pages only its trainee and game master."""
    if incident_rules.is_drill(incident.labels):
        return
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


# ------------------------------------------------------------------ people acting


@dataclass(frozen=True)
class Escalated:
    escalation: Escalation
    queued: int


def escalate_now(
    session: Session, *, incident: Incident, actor: str, now: datetime, base_url: str
) -> Escalated:
    """ "When in doubt, escalate": page the next level now, acknowledged or not. An active chain goes
    on from there; an acknowledged one stays acknowledged. 409 when there is nobody to escalate to."""
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    number = incident_rules.format_number(incident.number)
    if not incident_rules.is_open(incident.status):
        raise Conflict(
            f"{number} is {incident.status}: there is nothing to escalate", details={"number": number}
        )
    if incident_rules.is_drill(incident.labels):
        raise Conflict(
            f"{number} is a drill (label drill=true): a drill never pages the on-call",
            details={"number": number, "drill": True},
        )
    decider = Decider.of(session, base_url=base_url, now=now)
    policy, route, levels = chain_of(decider.config, incident)
    if policy is None:
        raise Conflict(f"{number}: {no_policy(incident)}; nobody to escalate to", details={"number": number})
    if route is None or not levels:
        raise Conflict(
            f"{number} is {incident.severity} and policy '{policy.name}' pages nobody for "
            f"{incident.severity}; raise the severity to page (commandpost sev {number} SEV2 --reason …)",
            details={"number": number, "severity": incident.severity},
        )
    esc = find(session, incident, lock=True)
    if esc is None:
        start(session, incident, now)
        esc = find(session, incident, lock=True)
        assert esc is not None
    chain = Chain(esc, incident, policy, route, levels)
    level, repeat = rules.manual_level(levels, level=esc.level, repeat=esc.repeat)
    acknowledged = incident.acknowledged_at is not None or esc.state == ACKNOWLEDGED
    queued = send_fyis(session, decider, chain, due=now) if not esc.fyi_sent else 0
    if level != esc.level or repeat != esc.repeat:
        move(session, esc, now, level=level, repeat=repeat)
    state = ACKNOWLEDGED if acknowledged else ACTIVE
    queued += fire(
        session, decider, chain, Firing(level, repeat, state, now, incident_rules.clean_person(actor))
    )
    if acknowledged and esc.acknowledged_at is None:
        move(session, esc, now, acknowledged_at=incident.acknowledged_at or now)
    wakeup.request(session)
    return Escalated(esc, queued)


def acknowledge(session: Session, *, incident: Incident, by: str, now: datetime) -> bool:
    """Stop the chain because someone acknowledged where the alert came from (e.g. a PagerDuty
    ``acknowledge`` event). The incident's own acknowledgement (and IC) stays with a person."""
    esc = find(session, incident, lock=True)
    if esc is None or esc.state != ACTIVE:
        return False
    number = incident_rules.format_number(incident.number)
    if not move(
        session,
        esc,
        now,
        state=ACKNOWLEDGED,
        next_escalation_at=None,
        acknowledged_at=now,
        acknowledged_by=by,
    ):
        return False
    record(
        session,
        incident,
        f"{number}: escalation stopped — acknowledged by {by}",
        now,
        {"escalation": ACKNOWLEDGED, "chain": esc.chain, "by": by},
    )
    return True


def acknowledge_number(session: Session, *, number: int, by: str, now: datetime) -> bool:
    """:func:`acknowledge` by incident number (the alert intake knows numbers)."""
    incident = session.scalars(select(Incident).where(Incident.number == number)).first()
    return incident is not None and acknowledge(session, incident=incident, by=by, now=now)


# ------------------------------------------------------------------ reading


def escalation_of(session: Session, *, incident: Incident) -> Escalation | None:
    return find(session, incident, lock=False)
