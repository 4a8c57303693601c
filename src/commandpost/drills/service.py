"""Drill use cases (Wheel of Misfortune, guide §5): start one from a past incident, deliver its
prompts as they fall due, list drills, score one against its original.

A drill is a new incident labelled ``drill=true`` (and ``drill_of=INC-n``), declared by the game
master with the trainee as IC, on the original's service and severity, so its runbook and roles work
as in a real incident. The label is what keeps it out of the response metrics and budgets (the
``incident_response`` trigger skips it) and off the status page (``incidents.publish``), and what
makes paging start no chain for it (``paging.service.start``): the on-call is never paged. Instead
:func:`start` pages exactly two people here, the trainee and the game master, on their page methods.
Services flush, never commit; time is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from commandpost.alerts.models import Alert
from commandpost.drills import rules
from commandpost.drills.models import Drill, DrillPrompt
from commandpost.engine import wakeup
from commandpost.errors import Conflict, NotFound
from commandpost.incidents import roles, timeline
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident, TimelineEntry
from commandpost.notify import service as notify_service
from commandpost.policy.opsfiles import OpsConfig
from commandpost.runbooks import service as runbooks_service

MAX_TITLE = 300
KIND = "drill"
"""The outgoing messages' kind: a drill's page, never an on-call page."""


def start(
    session: Session,
    *,
    source: str | int,
    game_master: str,
    now: datetime,
    trainee: str | None = None,
    speed: int = 1,
) -> Drill:
    """Open a drill replaying ``source`` (``INC-n``); the game master is ``game_master`` (who asks).

    404 for an unknown incident; 409 for a drill of a drill or an incident still open; 422 for a
    speed outside 1 … :data:`rules.MAX_SPEED` or a trainee not in people.yaml."""
    speed = rules.check_speed(speed)
    original = timeline.incident(session, number=source)
    number = incident_rules.format_number(original.number)
    if incident_rules.is_drill(original.labels):
        raise Conflict(
            f"{number} is itself a drill: drill from the incident it replays", details={"number": number}
        )
    if incident_rules.is_open(original.status):
        raise Conflict(
            f"{number} is {original.status}: a drill replays a past incident (resolved or closed)",
            details={"number": number, "status": original.status},
        )
    config = incident_service.config_of(session)
    gm = roles.known_person(config, game_master)
    player = roles.known_person(config, trainee) if trainee else gm
    incident = incident_service.declare(
        session,
        title=f"[drill] {original.title}"[:MAX_TITLE],
        severity=original.severity,
        actor=gm,
        now=now,
        service=original.service,
        summary=f"Wheel of Misfortune: a drill replaying {number}. Game master @{gm}, trainee @{player}.",
        ic=player,
        labels={"drill": "true", "drill_of": number},
    )
    drill = Drill(
        incident_id=incident.id,
        source_id=original.id,
        game_master=gm,
        trainee=player,
        speed=speed,
        started_at=now,
    )
    session.add(drill)
    session.flush()
    prompts = _prompts(session, original, drill)
    session.add_all(prompts)
    drill_number = incident_rules.format_number(incident.number)
    people = sorted({gm, player})
    timeline.append(
        session,
        incident=incident,
        kind="system",
        text=(
            f"{drill_number}: drill of {number} at {speed}× — {len(prompts)} prompts; pages only "
            + " and ".join(f"@{p}" for p in people)
            + ", never the on-call"
        ),
        author=gm,
        now=now,
        data={"drill": True, "of": number, "speed": speed, "game_master": gm, "trainee": player},
    )
    _page(session, config, incident, people, of=number, now=now)
    session.flush()
    deliver_due(session, now=now, drill_id=drill.id)
    wakeup.request(session)
    return drill


def _prompts(session: Session, original: Incident, drill: Drill) -> list[DrillPrompt]:
    """The original's alerts and key moments, oldest first, at most :data:`rules.MAX_PROMPTS`."""
    base = original.declared_at
    found: list[tuple[int, int, str, str, dict[str, object]]] = []
    alerts = session.scalars(
        select(Alert).where(Alert.incident_id == original.id).order_by(Alert.id).limit(rules.MAX_PROMPTS)
    )
    for alert in alerts:
        at = rules.offset(alert.starts_at or alert.first_seen_at, base)
        text = f"alert {alert.alertname or alert.summary or alert.dedup_key} fired on {alert.service}"
        if alert.summary and alert.alertname:
            text += f": {alert.summary}"
        found.append(
            (at, 0, "alert", text, {"alertname": alert.alertname, "labels": dict(alert.labels or {})})
        )
    entries = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == original.id, TimelineEntry.kind.in_(rules.MOMENT_KINDS))
        .order_by(TimelineEntry.id)
        .limit(rules.MAX_PROMPTS)
    )
    for entry in entries:
        found.append(
            (
                rules.offset(entry.at, base),
                1,
                "moment",
                f"in the original: {entry.text}",
                {"kind": entry.kind},
            )
        )
    found.sort(key=lambda item: (item[0], item[1]))
    return [
        DrillPrompt(
            drill_id=drill.id,
            kind=kind,
            offset_seconds=at,
            text=text[:2000],
            data=data,
            due_at=rules.due(drill.started_at, at, drill.speed),
            delivered_at=None,
        )
        for at, _order, kind, text, data in found[: rules.MAX_PROMPTS]
    ]


def _page(
    session: Session, config: OpsConfig, incident: Incident, people: list[str], *, of: str, now: datetime
) -> None:
    """Page the trainee and the game master (the first step of their page rules), nobody else."""
    number = incident_rules.format_number(incident.number)
    for person in people:
        steps = notify_service.page_steps(config, person, incident.severity)
        first = min(step.after for step in steps)
        notify_service.enqueue_each(
            session,
            destinations=[(s.channel, s.destination) for s in steps if s.after == first],
            kind=KIND,
            key_parts={"incident": incident.number, "to": person},
            subject=f"[DRILL] {number} {incident.severity}: {incident.title}",
            body=(
                f"[DRILL] {number} replays {of}: {incident.title}. This is practice, not an outage. "
                f"Acknowledge and work it as you would the real one (commandpost ack {number})."
            ),
            severity=incident.severity,
            incident_id=incident.id,
            person=person,
            payload={"drill": True, "of": of},
            now=now,
        )


# ------------------------------------------------------------------ prompts


def deliver_due(session: Session, *, now: datetime, limit: int = 200, drill_id: int | None = None) -> int:
    """Write each prompt due by ``now`` on its drill's timeline (a drill no longer open drops its
    prompts unsaid). Returns how many prompts were decided."""
    query = select(DrillPrompt).where(DrillPrompt.due_at.is_not(None), DrillPrompt.due_at <= now)
    if drill_id is not None:
        query = query.where(DrillPrompt.drill_id == drill_id)
    prompts = list(
        session.scalars(
            query.order_by(DrillPrompt.due_at, DrillPrompt.id).limit(limit).with_for_update(skip_locked=True)
        )
    )
    for prompt in prompts:
        drill = session.get(Drill, prompt.drill_id)
        assert drill is not None
        incident = timeline.lock(session, incident=session.get(Incident, drill.incident_id))  # type: ignore[arg-type]
        prompt.due_at = None
        if not incident_rules.is_open(incident.status):
            continue
        prompt.delivered_at = now
        minutes, secs = divmod(prompt.offset_seconds, 60)
        timeline.append(
            session,
            incident=incident,
            kind="alert" if prompt.kind == "alert" else "system",
            text=f"[drill prompt T+{minutes}m{secs:02d}s] {prompt.text}",
            author=incident_rules.SYSTEM_AUTHOR,
            now=now,
            data={"drill_prompt": prompt.id, **prompt.data},
        )
    session.flush()
    return len(prompts)


_FIRST_DUE = select(func.min(DrillPrompt.due_at))
"""Built once: the engine asks every pass, twice (``has_work``, ``next_due``), and building it (and its
cache key) cost more than running it."""


def next_due(session: Session) -> datetime | None:
    return session.scalar(_FIRST_DUE)


# ------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class DrillView:
    drill: Drill
    incident: Incident
    original: Incident
    prompts: int
    delivered: int


def view(session: Session, drill: Drill) -> DrillView:
    incident = session.get(Incident, drill.incident_id)
    original = session.get(Incident, drill.source_id)
    assert incident is not None and original is not None
    counts = session.execute(
        select(func.count(DrillPrompt.id), func.count(DrillPrompt.delivered_at)).where(
            DrillPrompt.drill_id == drill.id
        )
    ).one()
    return DrillView(drill, incident, original, int(counts[0]), int(counts[1]))


def list_drills(session: Session, *, limit: int = 50) -> list[DrillView]:
    """Newest first."""
    drills = session.scalars(select(Drill).order_by(Drill.id.desc()).limit(limit))
    return [view(session, d) for d in drills]


def drill_of(session: Session, *, number: str | int) -> DrillView:
    """The drill whose incident is ``INC-n`` (404 when that incident is not a drill started here)."""
    incident = timeline.incident(session, number=number)
    drill = session.scalars(select(Drill).where(Drill.incident_id == incident.id)).first()
    if drill is None:
        label = incident_rules.format_number(incident.number)
        raise NotFound(
            f"{label} is not a drill started with 'commandpost drill start'", details={"number": label}
        )
    return view(session, drill)


@dataclass(frozen=True, slots=True)
class Scorecard:
    view: DrillView
    drill: rules.Facts
    original: rules.Facts
    lines: list[rules.Line]

    @property
    def complete(self) -> bool:
        """The drill is over (resolved or closed): the numbers will not move."""
        return not incident_rules.is_open(self.view.incident.status)


def facts(session: Session, incident: Incident) -> rules.Facts:
    """What the scorecard measures of ``incident``, from its row and its timeline."""
    base = incident.declared_at
    entries = timeline.all_entries(session, incident=incident)
    first_step = next((e.at for e in entries if e.kind == "runbook_step"), None)
    move, note = _first_move(session, incident)
    done = None
    if move is not None:
        wanted = {"runbook": move["runbook"], "step": move["step"], "state": "done"}
        done = next(
            (
                e.at
                for e in entries
                if e.kind == "runbook_step" and all((e.data or {}).get(k) == v for k, v in wanted.items())
            ),
            None,
        )
    return rules.Facts(
        ack=rules.seconds(incident.acknowledged_at, base),
        first_move=rules.seconds(done, base),
        first_step=rules.seconds(first_step, base),
        move=move,
        move_note=note,
        mitigation=rules.seconds(incident.mitigated_at or incident.resolved_at, base),
        handover=any(e.kind == "handover" and (e.data or {}).get("state") == "accepted" for e in entries),
        comms=sum(1 for e in entries if e.kind == "comms"),
        comms_overdue=sum(1 for e in entries if (e.data or {}).get("reminder") == "comms_overdue"),
    )


def _first_move(session: Session, incident: Incident) -> tuple[dict[str, object] | None, str | None]:
    """The step whose "done" the scorecard times: the first move of the incident's runbook (its own,
    else the first attached), as its page named it; and a note whenever that is not a step labelled
    "First move" (none labelled: the first Mitigate step stands in, as on the page)."""
    checklists = runbooks_service.attachments(session, incident=incident)
    if not checklists:
        return None, "no first move named: no runbook on this incident"
    slug = checklists[0].slug
    step = runbooks_service.first_move(checklists[0].view)
    if step is None:
        return None, f"no first move named: runbook {slug} has no Mitigate step"
    move: dict[str, object] = {"runbook": slug, "step": step.step_id, "text": step.text, "named": step.named}
    if step.named:
        return move, None
    return move, f"no first move named in runbook {slug}: its first Mitigate step stands in, as on the page"


def scorecard(session: Session, *, number: str | int) -> Scorecard:
    view = drill_of(session, number=number)
    mine, theirs = facts(session, view.incident), facts(session, view.original)
    return Scorecard(view, mine, theirs, rules.scorecard(mine, theirs, view.drill.speed))
