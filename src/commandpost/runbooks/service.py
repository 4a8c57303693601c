"""Runbook use cases: read the applied runbooks, lint them in context, run them as checklists in incidents.

The runbooks served are those of the latest applied ops revision, parsed from the file texts
the revision stores (content + hash; parsing is pure and cached per content). An incident's
checklist is pinned to the version attached: ``incident_runbook.snapshot`` keeps its sections
and step ids, so a runbook edited mid-incident does not move the ground under the responders.

The incident's own ``runbook`` (from the alert rule that opened it, or the service's default when
declared by hand) counts as attached from the start — source ``alert`` or ``incident`` — and the
first mark stores the attachment. Services flush, never commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from commandpost.errors import Forbidden, NotFound, ValidationFailed
from commandpost.incidents import roles, timeline
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import service as incident_service
from commandpost.incidents.models import Incident
from commandpost.policy import service as policy_service
from commandpost.policy.opsfiles import OpsConfig, Service
from commandpost.runbooks import rules
from commandpost.runbooks.checklist import Attachment
from commandpost.runbooks.context import LintContext
from commandpost.runbooks.document import (
    VERIFY,
    FirstMove,
    Runbook,
    SnapshotView,
    Step,
)
from commandpost.runbooks.lint import RunbookFinding, lint_runbook
from commandpost.runbooks.models import IncidentRunbook, RunbookStepState, RunbookUpdateRequest
from commandpost.runbooks.parse import parse_text
from commandpost.security.redact import redact_text

MAX_NOTE = 2000
ATTACH_SOURCES = ("alert", "manual", "incident")


# ---------------------------------------------------------------- the applied runbooks


@dataclass(frozen=True)
class Applied:
    """The latest revision's config and its runbooks, parsed."""

    config: OpsConfig
    revision_id: int
    runbooks: dict[str, Runbook]

    def get(self, slug: str) -> Runbook:
        runbook = self.runbooks.get(slug)
        if runbook is None:
            known = ", ".join(sorted(self.runbooks)) or "none applied"
            raise NotFound(f"no runbook '{slug}' (runbooks: {known})", details={"slug": slug})
        return runbook

    def context(self) -> LintContext:
        return LintContext.from_config(self.config)

    def today(self, now: datetime) -> date:
        return rules.local_today(now, self.config.settings.timezone)


def applied(session: Session) -> Applied:
    """The runbooks of the latest applied ops revision (503 when nothing is applied yet)."""
    config = policy_service.current_config(session)
    revision = policy_service.latest_revision(session)
    assert revision is not None  # current_config raised otherwise
    files: dict[str, Any] = revision.files or {}
    parsed = {}
    for rb in config.runbooks:
        text = files.get(rb.path)
        if isinstance(text, str):
            parsed[rb.slug] = parse_text(text, path=rb.path, slug=rb.slug)
        else:
            parsed[rb.slug] = parse_text(rb.body, path=rb.path, slug=rb.slug, front_matter=False)
    return Applied(config, revision.id, parsed)


def first_move(runbook: Any) -> FirstMove | None:
    """The first move of a runbook (guide §4), the one decision of it: pages, the Slack command post,
    alert FYIs, the drill scorecard and the web pages all ask here, and say it in its words
    (:attr:`FirstMove.words`).

    Accepts a parsed :class:`Runbook`, a stored snapshot view, or the ops model's ``Runbook``
    (``config.runbook(slug)``), whose body is parsed here (``parse_text`` caches it per text).
    """
    if isinstance(runbook, Runbook | SnapshotView):
        return rules.first_move(runbook)
    body = getattr(runbook, "body", None)
    if not isinstance(body, str):
        raise TypeError(f"first_move needs a runbook, not {type(runbook).__name__}")
    return rules.first_move(parse_text(body, path=runbook.path, slug=runbook.slug, front_matter=False))


# ---------------------------------------------------------------- lint in context (RB015 seam)


def request_update(
    session: Session, *, slug: str, incident: Incident, source: str, by: str, now: datetime, note: str = ""
) -> RunbookUpdateRequest:
    """Record that a postmortem of ``incident`` asked for runbook ``slug`` to be updated (idempotent).

    This is what the postmortems domain calls (``source`` e.g. ``postmortem:12``); lint rule RB015
    then reports the runbook until its ``last_updated`` reaches the incident's resolution date.
    """
    existing = _update_request(session, slug, incident.id)
    if existing is not None:
        return existing
    row = RunbookUpdateRequest(
        slug=slug,
        incident_id=incident.id,
        source=source[:200],
        note=redact_text(note.strip())[:MAX_NOTE],
        requested_by=by,
        requested_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _update_request(session, slug, incident.id)
        assert found is not None
        return found
    return row


def _update_request(session: Session, slug: str, incident_id: int) -> RunbookUpdateRequest | None:
    query = select(RunbookUpdateRequest).where(
        RunbookUpdateRequest.slug == slug, RunbookUpdateRequest.incident_id == incident_id
    )
    return session.scalars(query).first()


def runbooks_flagged_for_update(session: Session, *, app: Applied) -> dict[str, str]:
    """The seam behind RB015: slug → why, for runbooks a postmortem asked to update and not updated since.

    A request counts until the runbook's ``last_updated`` is on or after the day (org timezone)
    its incident was resolved — or, for an incident not resolved yet, the day of the request.
    Empty until the postmortems domain writes ``runbook_update_request`` rows.
    """
    rows = session.execute(
        select(RunbookUpdateRequest, Incident)
        .join(Incident, Incident.id == RunbookUpdateRequest.incident_id)
        .order_by(RunbookUpdateRequest.id)
    ).all()
    timezone = app.config.settings.timezone
    flagged: dict[str, str] = {}
    for request, incident in rows:
        runbook = app.runbooks.get(request.slug)
        if runbook is None or request.slug in flagged:
            continue
        last_updated = rules.as_date(runbook.meta.get("last_updated"))
        reference = incident.resolved_at or request.requested_at
        day = rules.local_today(reference, timezone)
        if last_updated is None or last_updated < day:
            number = incident_rules.format_number(incident.number)
            when = f"resolved {day}" if incident.resolved_at else f"requested {day}"
            flagged[request.slug] = f"{request.source} of {number} ({when}) asked for an update"
    return flagged


def lint_applied(
    session: Session, *, app: Applied, now: datetime, strict: bool = False
) -> dict[str, list[RunbookFinding]]:
    """Every applied runbook linted with the folder's context, today's date and RB015's requests."""
    context = app.context()
    today = app.today(now)
    flagged = runbooks_flagged_for_update(session, app=app)
    return {
        slug: lint_runbook(runbook, context=context, today=today, strict=strict, flagged=flagged)
        for slug, runbook in app.runbooks.items()
    }


def staleness_of(app: Applied, runbook: Runbook, now: datetime) -> rules.Staleness | None:
    last_updated = rules.as_date(runbook.meta.get("last_updated"))
    if last_updated is None:
        return None
    return rules.staleness(last_updated, app.today(now), app.config.settings.runbook_max_age)


def pointers(services: Iterable[Service], slug: str) -> list[dict[str, Any]]:
    """The alert rules and services that point at a runbook (guide §4: alert → runbook)."""
    found: list[dict[str, Any]] = []
    for service in services:
        for rule in service.alert_rules:
            if rule.runbook == slug:
                found.append(
                    {
                        "service": service.name,
                        "alert": rule.match.alertname,
                        "labels": dict(rule.match.labels),
                        "severity": rule.severity,
                        "kind": "alert_rule",
                    }
                )
        if service.default_runbook == slug:
            found.append(
                {"service": service.name, "alert": None, "labels": {}, "severity": None, "kind": "default"}
            )
    return found


def incidents_using(session: Session, *, slug: str, limit: int = 50) -> list[Incident]:
    """Incidents that used a runbook: attached, or named as the incident's own runbook. Newest first."""
    attached = select(IncidentRunbook.incident_id).where(IncidentRunbook.slug == slug)
    query = (
        select(Incident)
        .where(or_(Incident.runbook == slug, Incident.id.in_(attached)))
        .order_by(Incident.number.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- attaching


def _stored(session: Session, incident: Incident, slug: str) -> IncidentRunbook | None:
    query = select(IncidentRunbook).where(
        IncidentRunbook.incident_id == incident.id, IncidentRunbook.slug == slug
    )
    return session.scalars(query).first()


def attach(
    session: Session, *, incident: Incident, slug: str, by: str, now: datetime, source: str = "manual"
) -> IncidentRunbook:
    """Attach the applied runbook ``slug`` to ``incident`` as a checklist; attaching again returns the first.

    The runbook of the alert that opened an incident needs no call: :func:`attachments` lists it
    (source ``alert``). Writes one timeline entry (with the first move) the first time only.
    """
    incident = timeline.lock(session, incident=incident)
    existing = _stored(session, incident, slug)
    if existing is not None:
        return existing
    timeline.ensure_writable(incident)
    incident_rules.choose(source, ATTACH_SOURCES, "attach source")
    app = applied(session)
    return _store(session, incident, app, app.get(slug), by=by, now=now, source=source)


def _store(
    session: Session,
    incident: Incident,
    app: Applied,
    runbook: Runbook,
    *,
    by: str,
    now: datetime,
    source: str,
) -> IncidentRunbook:
    row = IncidentRunbook(
        incident_id=incident.id,
        slug=runbook.slug,
        title=(runbook.meta.get("title") or runbook.title or runbook.slug)[:300],
        content_hash=runbook.content_hash,
        ops_revision_id=app.revision_id,
        snapshot=runbook.snapshot(),
        source=source,
        attached_at=timeline.effective_now(incident, now),
        attached_by=by,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # attached concurrently (the incident lock makes this rare): theirs wins
        found = _stored(session, incident, runbook.slug)
        assert found is not None
        return found
    move = rules.first_move(runbook)
    number = incident_rules.format_number(incident.number)
    text = f"{number}: runbook {runbook.slug} attached ({source})"
    if move is not None:
        text += f"; first move: {move.text}"
    incident_service.record(
        session,
        incident=incident,
        kind="system",
        text=text,
        author=by,
        now=now,
        data={
            "runbook": runbook.slug,
            "event": "attached",
            "source": source,
            "first_move": move and move.step_id,
        },
    )
    return row


def attachments(session: Session, *, incident: Incident) -> list[Attachment]:
    """Every runbook attached to ``incident``, with per-step state (the incident's own runbook first)."""
    rows = list(
        session.scalars(
            select(IncidentRunbook)
            .where(IncidentRunbook.incident_id == incident.id)
            .order_by(IncidentRunbook.id)
        )
    )
    states: dict[int, dict[str, RunbookStepState]] = {}
    if rows:
        query = select(RunbookStepState).where(RunbookStepState.incident_id == incident.id)
        for state in session.scalars(query):
            states.setdefault(state.attachment_id, {})[state.step_id] = state
    app = _applied_or_none(session)
    current = {slug: rb.content_hash for slug, rb in app.runbooks.items()} if app else {}
    out = [
        Attachment(
            slug=row.slug,
            title=row.title,
            source=row.source,
            view=SnapshotView.from_snapshot(row.snapshot),
            row=row,
            states=states.get(row.id, {}),
            current_hash=current.get(row.slug),
        )
        for row in rows
    ]
    own = incident.runbook
    if own and all(a.slug != own for a in out) and app is not None and own in app.runbooks:
        runbook = app.runbooks[own]
        view = SnapshotView.from_snapshot(runbook.snapshot())
        title = runbook.meta.get("title") or runbook.title or own
        source = "alert" if incident.detection == "automatic" else "incident"
        out.append(Attachment(own, str(title), source, view, None, {}, runbook.content_hash))
    out.sort(key=lambda a: (a.slug != own, a.row.id if a.row else 0))
    return out


def _applied_or_none(session: Session) -> Applied | None:
    if policy_service.latest_revision(session) is None:
        return None
    return applied(session)


# ---------------------------------------------------------------- marking steps


@dataclass(frozen=True)
class Marked:
    attachment: IncidentRunbook
    step: Step
    state: RunbookStepState
    changed: bool


def mark_step(
    session: Session,
    *,
    incident: Incident,
    slug: str,
    step_ref: str,
    state: str,
    by: str,
    now: datetime,
    note: str | None = None,
) -> Marked:
    """Record ``state`` (done|skipped|failed) of one step, who and when, with a ``runbook_step`` entry.

    404 naming the runbook's steps for an unknown step; 403 naming the Ops holder when someone
    else marks a Mitigate step (they change the system). Repeating the same mark changes nothing.
    """
    incident = timeline.lock(session, incident=incident)
    timeline.ensure_writable(incident)
    wanted = rules.normalize_state(state)
    clean_note = _note(note)
    number = incident_rules.format_number(incident.number)
    found = next((a for a in attachments(session, incident=incident) if a.slug == slug), None)
    if found is None:
        attached = ", ".join(a.slug for a in attachments(session, incident=incident)) or "none"
        raise NotFound(
            f"runbook '{slug}' is not attached to {number} (attached: {attached}); "
            f"attach it first: POST /api/v1/incidents/{incident.number}/runbooks",
            details={"slug": slug, "attached": attached},
        )
    step = rules.resolve_step(found.view.steps, step_ref)
    if step is None:
        listed = [f"{s.id} ({_short(s.text)})" for s in found.view.steps]
        raise NotFound(
            f"runbook '{slug}' has no step '{step_ref}'; its steps: {', '.join(listed) or 'none'}",
            details={"slug": slug, "step": step_ref, "steps": [s.id for s in found.view.steps]},
        )
    if rules.needs_ops(step):
        _require_ops(session, incident, by, step)
    row = found.row
    if row is None:
        app = applied(session)
        row = _store(session, incident, app, app.get(slug), by=by, now=now, source=found.source)
    current = found.states.get(step.id)
    if current is not None and current.state == wanted and current.note == clean_note:
        return Marked(row, step, current, changed=False)
    entry = incident_service.record(
        session,
        incident=incident,
        kind="runbook_step",
        text=f"{slug} step {step.id} {wanted} by @{by}: {step.text}"
        + (f" — {clean_note}" if clean_note else ""),
        author=by,
        now=now,
        data={
            "runbook": slug,
            "step": step.id,
            "section": step.section,
            "state": wanted,
            "previous": current.state if current else None,
            "note": clean_note or None,
            "command": step.command,
        },
    )
    if current is None:
        current = RunbookStepState(
            attachment_id=row.id,
            incident_id=incident.id,
            slug=slug,
            step_id=step.id,
            step_hash=step.text_hash,
            section=step.section,
            text=step.text,
            has_command=step.command is not None,
            state=wanted,
            note=clean_note,
            marked_by=by,
            marked_at=entry.at,
            entry_id=entry.id,
        )
        session.add(current)
    else:
        current.state, current.note, current.marked_by = wanted, clean_note, by
        current.marked_at, current.entry_id = entry.at, entry.id
    session.flush()
    return Marked(row, step, current, changed=True)


def _note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise ValidationFailed(f"note is longer than {MAX_NOTE} characters", details={"field": "note"})
    return redact_text(text)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _require_ops(session: Session, incident: Incident, person: str, step: Step) -> None:
    try:
        roles.require_ops(session, incident=incident, person=person)
    except Forbidden as exc:
        details = dict(exc.details) if isinstance(exc.details, dict) else {}
        raise Forbidden(
            f"Mitigate step {step.id} changes the system, so only the Ops holder marks it — {exc.message}",
            details={**details, "step": step.id},
        ) from None


def verify_evidence(session: Session, *, incident: Incident) -> list[RunbookStepState]:
    """Verify steps marked done: the evidence the "mitigated → resolved" view shows."""
    query = (
        select(RunbookStepState)
        .where(
            RunbookStepState.incident_id == incident.id,
            RunbookStepState.section == VERIFY,
            RunbookStepState.state == "done",
        )
        .order_by(RunbookStepState.marked_at, RunbookStepState.id)
    )
    return list(session.scalars(query))
