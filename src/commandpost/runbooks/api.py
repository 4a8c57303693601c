"""The runbooks API under ``/api/v1``: the applied runbooks, coverage, toil, and checklists in incidents.

Thin: the service decides. ``Reader`` for reads, ``Responder`` for attaching and marking steps
(the dependency commits with the audit row before the response is sent).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from commandpost.deps import Reader, Responder
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.runbooks import coverage, service, toil
from commandpost.runbooks.schemas import (
    AttachIn,
    AttachmentOut,
    MarkedOut,
    RunbookOut,
    RunbookSummaryOut,
    StepMarkIn,
    StepOut,
    attachment_out,
    runbook_out,
    summary_fields,
)

router = APIRouter(prefix="/api/v1", tags=["runbooks"])


@router.get("/runbooks", response_model=list[RunbookSummaryOut], summary="The applied runbooks")
def list_runbooks(ctx: Reader) -> list[RunbookSummaryOut]:
    app = service.applied(ctx.session)
    findings = service.lint_applied(ctx.session, app=app, now=ctx.now)
    base = app.config.settings.runbook_base_url
    return [
        RunbookSummaryOut(
            **summary_fields(
                rb,
                staleness=service.staleness_of(app, rb, ctx.now),
                findings=findings[slug],
                pointed_by=service.pointers(app.config.services, slug),
                base_url=base,
            )
        )
        for slug, rb in sorted(app.runbooks.items())
    ]


@router.get("/runbooks/coverage", summary="Paging alerts without runbooks, unused and stale runbooks")
def runbook_coverage(
    ctx: Reader, days: Annotated[int, Query(ge=1, le=365, description="history window for paged alerts")] = 30
) -> dict[str, Any]:
    return coverage.from_database(ctx.session, now=ctx.now, days=days).to_dict()


@router.get("/runbooks/toil", summary="Steps with a command done by hand in N+ incidents (guide §6-3)")
def runbook_toil(
    ctx: Reader, min_incidents: Annotated[int, Query(ge=1, le=1000)] = toil.DEFAULT_MIN_INCIDENTS
) -> list[dict[str, Any]]:
    return [c.to_dict() for c in toil.candidates(ctx.session, min_incidents=min_incidents)]


@router.get("/runbooks/{slug}", response_model=RunbookOut, summary="One runbook: sections, steps, lint, use")
def get_runbook(slug: str, ctx: Reader) -> RunbookOut:
    app = service.applied(ctx.session)
    runbook = app.get(slug)
    findings = service.lint_applied(ctx.session, app=app, now=ctx.now)[slug]
    return runbook_out(
        runbook,
        staleness=service.staleness_of(app, runbook, ctx.now),
        findings=findings,
        pointed_by=service.pointers(app.config.services, slug),
        incidents=service.incidents_using(ctx.session, slug=slug),
        base_url=app.config.settings.runbook_base_url,
    )


@router.get(
    "/incidents/{number}/runbooks",
    response_model=list[AttachmentOut],
    summary="Attached runbooks as checklists, Mitigate first",
)
def incident_runbooks(number: str, ctx: Reader) -> list[AttachmentOut]:
    incident = timeline.incident(ctx.session, number=number)
    return [attachment_out(a) for a in service.attachments(ctx.session, incident=incident)]


@router.post(
    "/incidents/{number}/runbooks",
    response_model=list[AttachmentOut],
    status_code=201,
    summary="Attach a runbook by hand (again: no change)",
)
def attach_runbook(number: str, body: AttachIn, ctx: Responder) -> list[AttachmentOut]:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    ctx.audit_target(f"incident:{incident_rules.format_number(incident.number)}", runbook=body.slug)
    service.attach(ctx.session, incident=incident, slug=body.slug, by=ctx.principal.person, now=ctx.now)
    return [attachment_out(a) for a in service.attachments(ctx.session, incident=incident)]


@router.post(
    "/incidents/{number}/runbooks/{slug}/steps/{step_id}",
    response_model=MarkedOut,
    summary="Mark a step done, skipped or failed (Mitigate: the Ops holder only)",
)
def mark_step(number: str, slug: str, step_id: str, body: StepMarkIn, ctx: Responder) -> MarkedOut:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    label = incident_rules.format_number(incident.number)
    ctx.audit_target(f"incident:{label}", runbook=slug, step=step_id, state=body.state)
    marked = service.mark_step(
        ctx.session,
        incident=incident,
        slug=slug,
        step_ref=step_id,
        state=body.state,
        note=body.note,
        by=ctx.principal.person,
        now=ctx.now,
    )
    return MarkedOut(
        incident=label, slug=slug, changed=marked.changed, step=StepOut.of(marked.step, marked.state)
    )
