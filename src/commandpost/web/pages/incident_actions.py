"""The incident page's forms: ack, severity, status, entries, roles, comms, status page and runbook steps.

Each form calls the same service function as the matching ``/api/v1`` endpoint, with the incident
row locked first (``timeline.incident(..., for_update=True)``) exactly as the API does. Without
JavaScript a form posts and is redirected back to the page (POST → 303 → GET); ``app.js``
posts the same form with ``fetch`` and the live timeline shows the result.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from commandpost.deps import Ctx
from commandpost.incidents import comms, publish, roles, rules, service, timeline
from commandpost.incidents.models import Incident
from commandpost.paging import service as paging_service
from commandpost.runbooks import service as runbook_service
from commandpost.web.auth import PageResponder, PageRoute, wants_json

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]


def _writing(ctx: Ctx, number: str) -> Incident:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    ctx.audit_target(f"incident:{rules.format_number(incident.number)}")
    return incident


def _done(request: Request, incident: Incident, message: str) -> Response:
    number = rules.format_number(incident.number)
    if wants_json(request):
        return JSONResponse({"ok": True, "message": message, "number": number})
    return RedirectResponse(f"/incidents/{number}", status_code=303)


@router.post("/incidents/{number}/ack")
def acknowledge(request: Request, number: str, ctx: PageResponder) -> Response:
    """The first screen's Acknowledge and the list's Ack; a second ack (a stale page) says who was first."""
    incident = _writing(ctx, number)
    first = (incident.acknowledged_by or incident.created_by) if incident.acknowledged_at else None
    incident = service.acknowledge(ctx.session, incident=incident, person=ctx.principal.person, now=ctx.now)
    return _done(request, incident, f"already acknowledged by @{first}" if first else "acknowledged")


@router.post("/incidents/{number}/escalate")
def escalate(request: Request, number: str, ctx: PageResponder) -> Response:
    incident = _writing(ctx, number)
    done = paging_service.escalate_now(
        ctx.session,
        incident=incident,
        actor=ctx.principal.person,
        now=ctx.now,
        base_url=request.app.state.settings.base_url(),
    )
    return _done(request, incident, f"escalated: {done.queued} page(s) queued")


@router.post("/incidents/{number}/severity")
def change_severity(
    request: Request, number: str, ctx: PageResponder, severity: Text = "", reason: Text = ""
) -> Response:
    incident = service.change_severity(
        ctx.session,
        incident=_writing(ctx, number),
        severity=severity,
        reason=reason,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    return _done(request, incident, f"severity is now {incident.severity}")


@router.post("/incidents/{number}/status")
def change_status(
    request: Request, number: str, ctx: PageResponder, status: Text = "", note: Text = ""
) -> Response:
    incident = service.change_status(
        ctx.session,
        incident=_writing(ctx, number),
        status=status,
        note=note or None,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    prompt = publish.resolve_prompt(ctx.session, incident=incident)
    return _done(request, incident, f"status is now {incident.status}" + (f"; {prompt}" if prompt else ""))


@router.post("/incidents/{number}/entries")
def add_entry(
    request: Request, number: str, ctx: PageResponder, kind: Text = "note", text: Text = ""
) -> Response:
    incident = _writing(ctx, number)
    service.add_entry(
        ctx.session, incident=incident, kind=kind, text=text, actor=ctx.principal.person, now=ctx.now
    )
    return _done(request, incident, f"{kind} added")


@router.post("/incidents/{number}/roles/offer")
def offer_role(
    request: Request, number: str, ctx: PageResponder, role: Text = "", person: Text = ""
) -> Response:
    incident = _writing(ctx, number)
    roles.offer(
        ctx.session,
        incident=incident,
        role=role,
        person=person,
        actor=ctx.principal.person,
        is_admin=ctx.principal.is_admin,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return _done(request, incident, f"{role} offered to @{person.lstrip('@')}")


@router.post("/incidents/{number}/roles/{role}/accept")
def accept_role(request: Request, number: str, role: str, ctx: PageResponder) -> Response:
    incident = _writing(ctx, number)
    roles.accept(ctx.session, incident=incident, role=role, actor=ctx.principal.person, now=ctx.now)
    return _done(request, incident, f"you hold {rules.ROLE_LABELS.get(role, role)} now")


@router.post("/incidents/{number}/roles/{role}/decline")
def decline_role(request: Request, number: str, role: str, ctx: PageResponder) -> Response:
    incident = _writing(ctx, number)
    roles.decline(ctx.session, incident=incident, role=role, actor=ctx.principal.person, now=ctx.now)
    return _done(request, incident, "declined")


@router.post("/incidents/{number}/roles/{role}/withdraw")
def withdraw_offer(request: Request, number: str, role: str, ctx: PageResponder) -> Response:
    incident = _writing(ctx, number)
    roles.withdraw(
        ctx.session,
        incident=incident,
        role=role,
        actor=ctx.principal.person,
        is_admin=ctx.principal.is_admin,
        now=ctx.now,
    )
    return _done(request, incident, "offer withdrawn")


@router.post("/incidents/{number}/comms")
def post_comms(
    request: Request,
    number: str,
    ctx: PageResponder,
    kind: Text = "update",
    audience: Text = "internal",
    body: Text = "",
) -> Response:
    incident = _writing(ctx, number)
    comms.post(
        ctx.session,
        incident=incident,
        kind=kind,
        audience=audience,
        body=body or None,
        actor=ctx.principal.person,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return _done(request, incident, f"{audience} {kind} update posted")


@router.post("/incidents/{number}/publish")
def publish_update(
    request: Request,
    number: str,
    ctx: PageResponder,
    title: Text = "",
    message: Text = "",
    state: Text = "",
    services: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The status page's publish form: one select per service (blank: not affected)."""
    incident = _writing(ctx, number)
    update = publish.publish(
        ctx.session,
        incident=incident,
        title=title or None,
        message=message,
        state=state or None,
        services=publish.pairs(services or []),
        actor=ctx.principal.person,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return _done(request, incident, f"published to the status page: {update.state}")


@router.post("/incidents/{number}/runbooks")
def attach_runbook(request: Request, number: str, ctx: PageResponder, slug: Text = "") -> Response:
    incident = _writing(ctx, number)
    runbook_service.attach(ctx.session, incident=incident, slug=slug, by=ctx.principal.person, now=ctx.now)
    return _done(request, incident, f"runbook {slug} attached")


@router.post("/incidents/{number}/runbooks/{slug}/steps/{step_id}")
def mark_step(
    request: Request,
    number: str,
    slug: str,
    step_id: str,
    ctx: PageResponder,
    state: Text = "done",
    note: Text = "",
) -> Response:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    ctx.audit_target(
        f"incident:{rules.format_number(incident.number)}", runbook=slug, step=step_id, state=state
    )
    runbook_service.mark_step(
        ctx.session,
        incident=incident,
        slug=slug,
        step_ref=step_id,
        state=state,
        note=note or None,
        by=ctx.principal.person,
        now=ctx.now,
    )
    return _done(request, incident, f"step {step_id.split('-')[0]} {state}")
