"""Postmortem use cases: evaluate the criteria, generate and re-generate the draft, edit, review, approve.

Every function takes the session and ``now``; the caller owns the transaction (services flush, never
commit). A writer locks the incident row first (the incidents domain's lock order), then the
postmortem row, so the engine re-evaluating and a person editing never interleave.

States (guide §5-3): ``not_required`` → (start) → ``draft`` → (submit, reviewer named) → ``in_review``
→ (the reviewer approves) → ``final``; ``reopen`` goes back to draft or in review. Editing a Final
postmortem writes a new ``postmortem_revision`` and keeps the old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.errors import CommandpostError, Conflict, Forbidden, NotFound, ValidationFailed
from commandpost.incidents import roles, timeline
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.policy import service as policy_service
from commandpost.policy.durations import parse_duration
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import actions, blameless, criteria, draft, reminders, render, states
from commandpost.postmortems.models import ActionItem, Postmortem, PostmortemRevision
from commandpost.postmortems.sections import MAX_SECTION, SECTION_NAMES, empty_sections
from commandpost.security.redact import redact_text

log = logging.getLogger("commandpost.postmortems")

RESOLVED = ("resolved", "closed")
MAX_REASON = 2000


def config_of(session: Session) -> OpsConfig:
    return policy_service.current_config(session)


def people_of(config: OpsConfig) -> blameless.People:
    return blameless.People.of(config.people)


# ---------------------------------------------------------------- reading


def find(session: Session, *, number: str | int, for_update: bool = False) -> tuple[Incident, Postmortem]:
    """The incident ``INC-n`` and its postmortem (404 saying how one comes to exist)."""
    incident = timeline.incident(session, number=number, for_update=for_update)
    query = select(Postmortem).where(Postmortem.incident_id == incident.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    pm = session.scalars(query).first()
    if pm is None:
        label = incident_rules.format_number(incident.number)
        hint = (
            "the engine evaluates the criteria within a pass; or start one now: "
            f"commandpost postmortem start {label}"
            if incident.status in RESOLVED
            else f"it is {incident.status}: criteria are evaluated when it is resolved"
        )
        raise NotFound(f"no postmortem for {label} yet — {hint}", details={"number": label})
    return incident, pm


def of_incident(session: Session, *, incident: Incident) -> Postmortem | None:
    """The incident's postmortem (any state), or None before the criteria were evaluated."""
    return session.scalars(select(Postmortem).where(Postmortem.incident_id == incident.id)).first()


def items_of(session: Session, *, pm: Postmortem) -> list[ActionItem]:
    query = select(ActionItem).where(ActionItem.postmortem_id == pm.id).order_by(ActionItem.id)
    return list(session.scalars(query))


def blame_flags(config: OpsConfig, pm: Postmortem) -> list[blameless.BlameFlag]:
    return blameless.check_sections(pm.sections or {}, people_of(config))


def document(session: Session, *, pm: Postmortem) -> render.Document:
    return render.Document(
        title=pm.title,
        status=pm.status,
        author=pm.author,
        reviewer=pm.reviewer,
        revision=pm.revision,
        sections=pm.sections or {},
        facts=pm.facts or {},
        criteria=pm.criteria or {},
        items=[render.Item.of(actions.item_dict(i)) for i in items_of(session, pm=pm)],
        no_action_reason=pm.no_action_reason,
    )


def markdown(session: Session, *, pm: Postmortem, revision: int | None = None) -> str:
    if revision is None:
        return render.markdown(document(session, pm=pm))
    return get_revision(session, pm=pm, revision=revision).markdown


def revisions(session: Session, *, pm: Postmortem) -> list[PostmortemRevision]:
    query = select(PostmortemRevision).where(PostmortemRevision.postmortem_id == pm.id)
    return list(session.scalars(query.order_by(PostmortemRevision.revision)))


def get_revision(session: Session, *, pm: Postmortem, revision: int) -> PostmortemRevision:
    found = session.scalars(
        select(PostmortemRevision).where(
            PostmortemRevision.postmortem_id == pm.id, PostmortemRevision.revision == revision
        )
    ).first()
    if found is None:
        have = [r.revision for r in revisions(session, pm=pm)]
        raise NotFound(
            f"no revision {revision} of this postmortem "
            f"(revisions: {', '.join(map(str, have)) or 'none yet'})"
        )
    return found


def list_postmortems(
    session: Session, *, now: datetime, status: str | None = None, since: str | None = None, limit: int = 100
) -> list[tuple[Postmortem, Incident]]:
    """Newest first. ``since`` (e.g. ``30d``) filters Final ones by when they became final, others by
    when they were created; without ``status`` the ``not_required`` rows are left out."""
    query = select(Postmortem, Incident).join(Incident, Incident.id == Postmortem.incident_id)
    if status:
        query = query.where(Postmortem.status == incident_rules.choose(status, states.STATUSES, "status"))
    else:
        query = query.where(Postmortem.status != "not_required")
    if since:
        try:
            cutoff = now - parse_duration(since)
        except ValueError as exc:
            raise ValidationFailed(f"since: {exc}", details={"field": "since"}) from None
        stamp = Postmortem.finalized_at if status == "final" else Postmortem.created_at
        query = query.where(stamp >= cutoff)
    order = Postmortem.finalized_at.desc() if status == "final" else Postmortem.created_at.desc()
    rows = session.execute(query.order_by(order, Postmortem.id.desc()).limit(max(1, min(limit, 500)))).all()
    return [(pm, incident) for pm, incident in rows]


# ---------------------------------------------------------------- criteria and the draft


def _owner_for_prefill(config: OpsConfig, facts: draft.Facts) -> str:
    """The IC; else the lead of the service's owning team; else the first person in people.yaml."""
    if facts.ic and config.person(facts.ic):
        return facts.ic
    service = config.service(facts.service) if facts.service else None
    team = config.team(service.owner) if service else None
    if team and team.lead and config.person(team.lead):
        return team.lead
    return config.people[0].handle


def evaluate(
    session: Session, *, incident: Incident, now: datetime, actor: str = incident_rules.SYSTEM_AUTHOR
) -> Postmortem:
    """Evaluate the criteria for a resolved incident and create or refresh its postmortem.

    Required and not yet drafted → a Draft (author = IC) with the generated sections, and for a
    manually detected incident the pre-filled "add the missing alert" action item. A Draft's
    generated sections follow the live document until a person edits them; In Review and Final
    keep their text and only the stored criteria change.
    """
    incident = timeline.lock(session, incident=incident)
    config = config_of(session)
    facts = draft.gather(session, incident, config)
    result = criteria.evaluate(
        facts.criteria_input(config, incident.manual_intervention),
        config.settings.postmortem,
        config.settings.timezone,
    )
    pm = _locked(session, incident) or _insert(session, incident, facts, result, actor=actor, now=now)
    became_required = result.required and pm.status == "not_required"
    before = (pm.sections, pm.facts, pm.criteria)
    pm.required = result.required
    pm.criteria = result.to_dict()
    pm.evaluated_at = now
    pm.evaluated_for = incident.updated_at
    if became_required:
        _to_draft(pm, facts, now=now)
    if pm.status == "draft":
        _regenerate(pm, facts)
    elif pm.status == "not_required":
        pm.facts = facts.to_dict()
    if (pm.sections, pm.facts, pm.criteria) != before:
        pm.updated_at = now
    session.flush()
    if pm.status == "draft" and result.manual_detection and facts.drill is None:  # a drill is declared
        _prefill_missing_alert(session, config, pm, incident, facts, now=now)
    if became_required:
        _announce(session, incident, pm, now=now)
    return pm


def _locked(session: Session, incident: Incident) -> Postmortem | None:
    query = (
        select(Postmortem)
        .where(Postmortem.incident_id == incident.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalars(query).first()


def _insert(
    session: Session,
    incident: Incident,
    facts: draft.Facts,
    result: criteria.CriteriaResult,
    *,
    actor: str,
    now: datetime,
) -> Postmortem:
    pm = Postmortem(
        incident_id=incident.id,
        status="not_required",
        title=incident.title,
        author=None,
        reviewer=None,
        required=result.required,
        criteria=result.to_dict(),
        evaluated_at=now,
        evaluated_for=incident.updated_at,
        sections={},
        edited=[],
        facts=facts.to_dict(),
        revision=0,
        created_at=now,
        created_by=actor,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(pm)
    except IntegrityError:  # evaluated concurrently: theirs wins, refresh it under the lock
        found = _locked(session, incident)
        assert found is not None
        return found
    return pm


def _to_draft(pm: Postmortem, facts: draft.Facts, *, now: datetime) -> None:
    pm.status = "draft"
    pm.title = facts.title
    pm.author = pm.author or facts.ic
    pm.sections = {name: "" for name in SECTION_NAMES}
    pm.edited = []
    pm.created_at = now


def _regenerate(pm: Postmortem, facts: draft.Facts) -> None:
    edited = set(pm.edited or [])
    sections = dict(pm.sections or {})
    for name, text in draft.generated_sections(facts).items():
        if name not in edited:
            sections[name] = text
    pm.sections = sections
    pm.facts = facts.to_dict()
    if "title" not in edited:
        pm.title = facts.title


def _prefill_missing_alert(
    session: Session,
    config: OpsConfig,
    pm: Postmortem,
    incident: Incident,
    facts: draft.Facts,
    *,
    now: datetime,
) -> None:
    query = select(ActionItem.id).where(
        ActionItem.postmortem_id == pm.id, ActionItem.origin == draft.MISSING_ALERT
    )
    if session.scalar(query) is not None:
        return
    spec = draft.missing_alert_item(
        facts,
        owner=_owner_for_prefill(config, facts),
        today=reminders.local_today(now, config.settings.timezone),
        runbooks={rb.slug for rb in config.runbooks},
    )
    actions.prefill(session, pm=pm, incident=incident, spec=spec, now=now)


def _announce(session: Session, incident: Incident, pm: Postmortem, *, now: datetime) -> None:
    """One entry on the live document: the postmortem is required, and why (not on a closed incident)."""
    if incident.status == "closed":
        return
    number = incident_rules.format_number(incident.number)
    incident_service.record(
        session,
        incident=incident,
        kind="system",
        text=f"{number}: postmortem {pm.criteria['summary']} — draft: commandpost postmortem show {number}",
        author=incident_rules.SYSTEM_AUTHOR,
        now=now,
        data={"postmortem": pm.id, "required": True},
    )
    pm.evaluated_for = incident.updated_at


def start(session: Session, *, number: str | int, actor: str, now: datetime) -> Postmortem:
    """A person starts a postmortem now: evaluate the criteria, and draft it even if none applies."""
    incident = timeline.incident(session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    if incident.status not in RESOLVED:
        raise Conflict(
            f"{label} is {incident.status}; a postmortem starts once it is resolved (mitigate first)",
            details={"number": label, "status": incident.status},
        )
    pm = evaluate(session, incident=incident, now=now, actor=actor)
    if pm.status == "not_required":
        facts = draft.gather(session, incident, config_of(session))
        _to_draft(pm, facts, now=now)
        _regenerate(pm, facts)
        pm.criteria = {**pm.criteria, "summary": f"{pm.criteria['summary']} (written by choice)"}
        pm.updated_at = now
        session.flush()
    return pm


def evaluate_due(session: Session, *, now: datetime, limit: int = 100) -> int:
    """The engine's pass: every resolved incident whose live document moved since its last evaluation."""
    ids = session.scalars(pending_evaluation().order_by(Incident.updated_at).limit(limit)).all()
    done = 0
    for incident_id in ids:
        incident = session.get_one(Incident, incident_id)
        pm = of_incident(session, incident=incident)
        if pm is not None and pm.evaluated_for >= incident.updated_at:
            continue
        try:
            with session.begin_nested():  # one incident that cannot be evaluated does not stop the others
                evaluate(session, incident=incident, now=now)
        except CommandpostError:
            log.exception("postmortem criteria for incident id %s could not be evaluated", incident_id)
            continue
        done += 1
    return done


def pending_evaluation() -> Any:
    return (
        select(Incident.id)
        .outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(
            Incident.status.in_(RESOLVED),
            or_(Postmortem.id.is_(None), Postmortem.evaluated_for < Incident.updated_at),
        )
    )


# ---------------------------------------------------------------- editing


def _clean_sections(changes: Mapping[str, Any]) -> dict[str, str]:
    unknown = sorted(set(changes) - set(SECTION_NAMES))
    if unknown:
        raise ValidationFailed(
            f"unknown section(s) {', '.join(unknown)}; sections: {', '.join(SECTION_NAMES)}",
            details={"field": "sections", "valid": list(SECTION_NAMES)},
        )
    clean = {}
    for name, value in changes.items():
        text = str(value or "").strip()
        if len(text) > MAX_SECTION:
            raise ValidationFailed(
                f"section {name} is longer than {MAX_SECTION} characters", details={"field": name}
            )
        clean[name] = redact_text(text)
    return clean


def edit(
    session: Session,
    *,
    number: str | int,
    actor: str,
    now: datetime,
    sections: Mapping[str, Any] | None = None,
    title: str | None = None,
    author: str | None = None,
    no_action_reason: str | None = None,
) -> Postmortem:
    """Change sections (and title, author, "no action needed" reason). On a Final postmortem the
    result must still be complete, and it becomes a new revision; the previous one is kept."""
    incident, pm = find(session, number=number, for_update=True)
    config = config_of(session)
    label = incident_rules.format_number(incident.number)
    if pm.status == "not_required":
        raise Conflict(
            f"{label} needs no postmortem by the criteria; "
            f"start one first: commandpost postmortem start {label}",
            details={"status": pm.status},
        )
    changed = dict(pm.sections or {})
    edited = list(pm.edited or [])
    for name, text in _clean_sections(sections or {}).items():
        if changed.get(name, "") != text:
            changed[name] = text
            if name not in edited:
                edited.append(name)
    new_title = pm.title
    if title is not None:
        new_title = redact_text(title.strip())
        if not new_title or len(new_title) > 300:
            raise ValidationFailed("title must be 1–300 characters", details={"field": "title"})
        if new_title != pm.title and "title" not in edited:
            edited.append("title")
    new_author = roles.known_person(config, author) if author is not None else pm.author
    reason = pm.no_action_reason
    if no_action_reason is not None:
        reason = redact_text(no_action_reason.strip())[:MAX_REASON] or None
    if (changed, new_title, new_author, reason) == (pm.sections, pm.title, pm.author, pm.no_action_reason):
        return pm
    if pm.status == "final":
        missing = empty_sections(changed)
        if missing:
            raise Conflict(
                f"the postmortem of {label} is Final; an edit cannot empty required sections: "
                f"{', '.join(missing)}",
                details={"empty_sections": missing},
            )
        _strict_blameless(config, changed, label)
    pm.sections, pm.title, pm.author, pm.no_action_reason = changed, new_title, new_author, reason
    pm.edited = edited
    pm.updated_at = now
    session.flush()
    if pm.status == "final":
        _snapshot(session, pm, reason="edited", actor=actor, now=now)
    return pm


def _strict_blameless(config: OpsConfig, sections: Mapping[str, str], label: str) -> None:
    if config.settings.postmortem.blameless != "strict":
        return
    flags = blameless.check_sections(sections, people_of(config))
    if flags:
        listed = "; ".join(f"{f.section}: '{f.sentence}' ({f.phrase} → {f.suggestion})" for f in flags)
        raise Conflict(
            f"blameless: strict — the postmortem of {label} makes a person the actor of a failure: {listed}",
            details={"blameless": [f.to_dict() for f in flags]},
        )


# ---------------------------------------------------------------- review


def submit(
    session: Session, *, number: str | int, reviewer: str, actor: str, now: datetime
) -> tuple[Postmortem, list[blameless.BlameFlag]]:
    """Draft → In Review with a named reviewer; returns the blameless warnings (blocking when strict)."""
    incident, pm = find(session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    config = config_of(session)
    target = states.check_move(pm.status, "submit", number=label)
    who = roles.known_person(config, reviewer)
    if who == pm.author:
        raise ValidationFailed(
            f"the reviewer must be someone other than the author @{pm.author}", details={"field": "reviewer"}
        )
    _strict_blameless(config, pm.sections or {}, label)
    pm.status, pm.reviewer, pm.submitted_at, pm.updated_at = target, who, now, now
    session.flush()
    return pm, blame_flags(config, pm)


def approve(session: Session, *, number: str | int, actor: str, now: datetime) -> Postmortem:
    """The named reviewer approves: Final, a revision is stored, runbooks named by items are flagged."""
    incident, pm = find(session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    config = config_of(session)
    states.check_move(pm.status, "approve", number=label)
    if actor != pm.reviewer:
        raise Forbidden(
            f"only the reviewer @{pm.reviewer} approves the postmortem of {label}; you are @{actor}",
            details={"reviewer": pm.reviewer, "you": actor},
        )
    problems, details = _final_problems(session, pm)
    if problems:
        raise Conflict(
            f"the postmortem of {label} cannot be Final: {'; '.join(problems)}",
            details=details,
        )
    _strict_blameless(config, pm.sections or {}, label)
    pm.status, pm.finalized_at, pm.approved_by, pm.updated_at = "final", now, actor, now
    session.flush()
    _snapshot(session, pm, reason="approved", actor=actor, now=now)
    for item in items_of(session, pm=pm):
        if item.runbook:
            actions.request_runbook_update(session, incident=incident, item=item, actor=actor, now=now)
    return pm


def _final_problems(session: Session, pm: Postmortem) -> tuple[list[str], dict[str, Any]]:
    problems: list[str] = []
    details: dict[str, Any] = {}
    missing = empty_sections(pm.sections or {})
    if missing:
        problems.append(f"empty required sections: {', '.join(missing)}")
        details["empty_sections"] = missing
    items = [i for i in items_of(session, pm=pm) if i.status != "wontfix"]
    if not items and not pm.no_action_reason:
        problems.append(
            "no action items: add at least one (commandpost action add) or say why none is needed "
            "(no_action_reason)"
        )
        details["action_items"] = 0
    unticketed = [i.id for i in items if not i.ticket]
    if unticketed:
        problems.append(
            f"action item(s) without a ticket: {', '.join(f'#{i}' for i in unticketed)} "
            "(set one: commandpost action update ID --ticket OPS-123)"
        )
        details["unticketed"] = unticketed
    return problems, details


def reopen(session: Session, *, number: str | int, to: str | None, actor: str, now: datetime) -> Postmortem:
    """Final or In Review → Draft (default) or In Review; the Final revisions stay."""
    incident, pm = find(session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    pm.status = states.check_move(pm.status, "reopen", number=label, target=to)
    if pm.status == "draft":
        pm.submitted_at = None
    pm.updated_at = now
    session.flush()
    return pm


def _snapshot(
    session: Session, pm: Postmortem, *, reason: str, actor: str, now: datetime
) -> PostmortemRevision:
    items = items_of(session, pm=pm)
    pm.revision = (max((r.revision for r in revisions(session, pm=pm)), default=0)) + 1
    session.flush()
    row = PostmortemRevision(
        postmortem_id=pm.id,
        revision=pm.revision,
        reason=reason,
        title=pm.title,
        author=pm.author,
        reviewer=pm.reviewer,
        sections=dict(pm.sections or {}),
        facts=dict(pm.facts or {}),
        criteria=dict(pm.criteria or {}),
        action_items=[actions.item_dict(i) for i in items],
        no_action_reason=pm.no_action_reason,
        markdown=render.markdown(document(session, pm=pm)),
        created_at=now,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    return row
