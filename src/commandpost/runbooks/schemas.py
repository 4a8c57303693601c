"""Pydantic shapes of the runbooks API, built from service objects (also used by the offline CLI)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from commandpost.incidents import rules as incident_rules
from commandpost.incidents.models import Incident
from commandpost.responses import Out, computed
from commandpost.runbooks import rules
from commandpost.runbooks.checklist import Attachment, ordered_sections, progress
from commandpost.runbooks.document import VERIFY, Runbook, Section, Step
from commandpost.runbooks.lint import RunbookFinding
from commandpost.runbooks.models import RunbookStepState


class CautionOut(Out):
    text: str
    line: int
    guards: str | None = Field(description="the step this warning stands beside (the step right before it)")


class StepStateOut(Out):
    state: str
    note: str
    by: str = Field(validation_alias="marked_by")
    at: datetime = Field(validation_alias="marked_at")
    entry_id: int | None


class StepOut(Out):
    id: str
    section: int
    position: int
    text: str
    line: int
    command: str | None
    warning: bool
    needs_ops: bool = Field(description="a Mitigate step: only the Ops holder marks it")
    cautions: list[CautionOut]
    state: StepStateOut | None = None

    @classmethod
    def of(cls, step: Step, state: RunbookStepState | None = None) -> StepOut:
        """Computed: whether only the Ops holder marks it, and its ``state`` in an incident (a row of
        its own)."""
        return cls.model_validate(computed(step, needs_ops=rules.needs_ops(step), state=state))


class ItemOut(Out):
    text: str
    line: int
    command: str | None


class SectionOut(Out):
    number: int
    name: str
    heading: str
    line: int
    steps: list[StepOut]
    items: list[ItemOut]
    cautions: list[CautionOut]

    @classmethod
    def of(cls, section: Section, states: dict[str, RunbookStepState] | None = None) -> SectionOut:
        """Computed: the steps, each with its state in an incident (``states``, by step id)."""
        states = states or {}
        return cls.model_validate(
            computed(section, steps=[StepOut.of(s, states.get(s.id)) for s in section.steps])
        )


class FindingOut(Out):
    path: str
    line: int
    rule: str
    name: str
    severity: Literal["error", "warning"]
    message: str


class StalenessOut(Out):
    last_updated: date
    age_days: int
    max_age_days: int
    stale: bool
    stale_from: date


class FirstMoveOut(Out):
    step_id: str
    text: str
    command: str | None


class PointerOut(Out):
    service: str
    alert: str | None
    labels: dict[str, str]
    severity: str | None
    kind: Literal["alert_rule", "default"]


class IncidentRefOut(Out):
    number: str
    title: str
    status: str
    severity: str
    declared_at: datetime

    @classmethod
    def of(cls, incident: Incident) -> IncidentRefOut:
        """Computed: the INC-n label."""
        return cls.model_validate(computed(incident, number=incident_rules.format_number(incident.number)))


class RunbookSummaryOut(Out):
    slug: str
    title: str
    path: str
    owner: str | None
    severity: str | None
    last_updated: date | None
    stale: bool
    age_days: int | None
    steps: int
    alerts: list[str]
    services: list[str]
    lint_errors: int
    lint_warnings: int
    url: str | None


class RunbookOut(RunbookSummaryOut):
    slo: str | None
    service: str | None
    escalates_to: str | None
    content_hash: str
    staleness: StalenessOut | None
    first_move: FirstMoveOut | None
    sections: list[SectionOut]
    warnings: list[CautionOut]
    lint: list[FindingOut]
    pointed_by: list[PointerOut]
    incidents: list[IncidentRefOut]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _alerts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [a for a in value if isinstance(a, str)] if isinstance(value, list) else []


def summary_fields(
    runbook: Runbook,
    *,
    staleness: rules.Staleness | None,
    findings: list[RunbookFinding],
    pointed_by: list[dict[str, Any]],
    base_url: str,
) -> dict[str, Any]:
    meta = runbook.meta
    return {
        "slug": runbook.slug,
        "title": _text(meta.get("title")) or runbook.title or runbook.slug,
        "path": runbook.path,
        "owner": _text(meta.get("owner")),
        "severity": _text(meta.get("severity")),
        "last_updated": rules.as_date(meta.get("last_updated")),
        "stale": bool(staleness and staleness.stale),
        "age_days": staleness.age_days if staleness else None,
        "steps": len(runbook.steps),
        "alerts": _alerts(meta.get("alerts")),
        "services": sorted({p["service"] for p in pointed_by}),
        "lint_errors": sum(f.is_error for f in findings),
        "lint_warnings": sum(not f.is_error for f in findings),
        "url": f"{base_url.rstrip('/')}/{runbook.slug}" if base_url else None,
    }


def runbook_out(
    runbook: Runbook,
    *,
    staleness: rules.Staleness | None,
    findings: list[RunbookFinding],
    pointed_by: list[dict[str, Any]],
    incidents: list[Incident],
    base_url: str,
) -> RunbookOut:
    meta = runbook.meta
    move = rules.first_move(runbook)
    cautions = [
        c for s in runbook.sections for c in (*s.cautions, *(c for st in s.steps for c in st.cautions))
    ]
    return RunbookOut(
        **summary_fields(
            runbook, staleness=staleness, findings=findings, pointed_by=pointed_by, base_url=base_url
        ),
        slo=_text(meta.get("slo")),
        service=_text(meta.get("service")),
        escalates_to=_text(meta.get("escalates_to")),
        content_hash=runbook.content_hash,
        staleness=StalenessOut.model_validate(staleness) if staleness else None,
        first_move=FirstMoveOut.model_validate(move) if move else None,
        sections=[SectionOut.of(s) for s in runbook.sections],
        warnings=[CautionOut.model_validate(c) for c in sorted(cautions, key=lambda c: c.line)],
        lint=[FindingOut.model_validate(f) for f in findings],
        pointed_by=[PointerOut(**p) for p in pointed_by],
        incidents=[IncidentRefOut.of(i) for i in incidents],
    )


# ---------------------------------------------------------------- incidents


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(min_length=1, max_length=100, description="an applied runbook's slug")


class StepMarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["done", "skipped", "failed"]
    note: str | None = Field(default=None, max_length=2000)


class ProgressOut(Out):
    total: int
    open: int
    done: int
    skipped: int
    failed: int


class EvidenceOut(Out):
    step_id: str
    text: str
    by: str
    at: datetime


class AttachmentOut(Out):
    slug: str
    title: str
    source: str
    attached_at: datetime | None
    attached_by: str | None
    content_hash: str
    outdated: bool = Field(description="the applied runbook changed since this version was attached")
    first_move: FirstMoveOut | None
    progress: ProgressOut
    sections: list[SectionOut] = Field(description="Mitigate first, then Verify, then the rest")
    verify_evidence: list[EvidenceOut]


class MarkedOut(Out):
    incident: str
    slug: str
    changed: bool
    step: StepOut


def attachment_out(attachment: Attachment) -> AttachmentOut:
    """One attached runbook as a checklist: sections Mitigate first, each step with its state."""
    view, states, row = attachment.view, attachment.states, attachment.row
    move = rules.first_move(view)
    evidence = [
        EvidenceOut(step_id=s.id, text=s.text, by=states[s.id].marked_by, at=states[s.id].marked_at)
        for s in view.steps
        if s.section == VERIFY and s.id in states and states[s.id].state == "done"
    ]
    return AttachmentOut(
        slug=attachment.slug,
        title=attachment.title,
        source=attachment.source,
        attached_at=row.attached_at if row else None,
        attached_by=row.attached_by if row else None,
        content_hash=view.content_hash,
        outdated=attachment.outdated,
        first_move=FirstMoveOut.model_validate(move) if move else None,
        progress=ProgressOut(**progress(view.steps, states)),
        sections=[SectionOut.of(s, states) for s in ordered_sections(view)],
        verify_evidence=evidence,
    )
