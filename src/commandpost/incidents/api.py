"""The incidents API under ``/api/v1`` (scope ``responder`` writes, ``read`` reads). Thin: services decide.

``{number}`` accepts ``7`` or ``INC-7``. Writers load the incident with its row lock; the
``Responder`` dependency commits (with the audit row) before the response is sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from commandpost.deps import Ctx, Reader, Responder, RowId
from commandpost.incidents import comms, details, maintenance, publish, roles, rules, service, timeline
from commandpost.incidents.models import Incident
from commandpost.incidents.schemas import (
    CommsIn,
    CommsTemplateOut,
    DeclaredOut,
    DeclareIn,
    EntryIn,
    EntryOut,
    IncidentOut,
    MaintenanceIn,
    MaintenanceOut,
    OfferOut,
    PersonIn,
    PublicUpdateOut,
    PublishIn,
    RoleOut,
    SeverityIn,
    StatusChangedOut,
    StatusIn,
    TimelineOut,
    UpdateIn,
)

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def _timezone(ctx: Ctx) -> str:
    return service.config_of(ctx.session).settings.timezone


def _out(session: Session, incident: Incident, ctx: Ctx) -> IncidentOut:
    ic = roles.ic_holder(session, incident=incident)
    return IncidentOut.of(incident, ic=ic, now=ctx.now, timezone=_timezone(ctx))


def _writing(ctx: Ctx, number: str) -> Incident:
    incident = timeline.incident(ctx.session, number=number, for_update=True)
    ctx.audit_target(f"incident:{rules.format_number(incident.number)}")
    return incident


@router.post("/incidents", response_model=DeclaredOut, status_code=201, summary="Declare an incident")
def declare(body: DeclareIn, ctx: Responder) -> DeclaredOut:
    incident = service.declare(
        ctx.session,
        title=body.title,
        severity=body.severity,
        actor=ctx.principal.person,
        now=ctx.now,
        service=body.service,
        summary=body.summary,
        impact=body.impact,
        impact_started_at=body.impact_started_at,
        detected_at=body.detected_at,
        ic=body.ic,
        labels=body.labels,
        page=body.page,
    )
    number = rules.format_number(incident.number)
    ctx.audit_target(f"incident:{number}", severity=incident.severity, service=incident.service)
    config = service.config_of(ctx.session)
    paged, paging = rules.declared_paging(
        severity=incident.severity,
        pages=config.severities[incident.severity].paging,
        service=incident.service,
        page=body.page,
    )
    steps = rules.next_steps(number=number, runbook=incident.runbook, paging=paged, channel=incident.channel)
    return DeclaredOut(**_out(ctx.session, incident, ctx).model_dump(), paging=paging, next_steps=steps)


@router.get("/incidents", response_model=list[IncidentOut], summary="List incidents, newest first")
def list_incidents(
    ctx: Reader,
    status: Annotated[str | None, Query(description="a status, or 'open'")] = None,
    severity: str | None = None,
    service_name: Annotated[str | None, Query(alias="service")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[IncidentOut]:
    rows = service.list_incidents(
        ctx.session, status=status, severity=severity, service=service_name, limit=limit
    )
    ics = roles.ic_holders(ctx.session, incident_ids=[r.id for r in rows])
    tz = _timezone(ctx)
    return [IncidentOut.of(r, ic=ics.get(r.id), now=ctx.now, timezone=tz) for r in rows]


@router.get("/incidents/{number}", response_model=IncidentOut)
def show(number: str, ctx: Reader) -> IncidentOut:
    return _out(ctx.session, timeline.incident(ctx.session, number=number), ctx)


@router.patch(
    "/incidents/{number}", response_model=IncidentOut, summary="Edit title, summary, impact, flags…"
)
def update(number: str, body: UpdateIn, ctx: Responder) -> IncidentOut:
    incident = details.update_details(
        ctx.session,
        incident=_writing(ctx, number),
        actor=ctx.principal.person,
        now=ctx.now,
        changes=body.model_dump(exclude_unset=True),
    )
    return _out(ctx.session, incident, ctx)


@router.post(
    "/incidents/{number}/status",
    response_model=StatusChangedOut,
    summary="Change status (resolving says when the status page still needs its resolved update)",
)
def change_status(number: str, body: StatusIn, ctx: Responder) -> StatusChangedOut:
    incident = service.change_status(
        ctx.session,
        incident=_writing(ctx, number),
        status=body.status,
        note=body.note,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    prompt = publish.resolve_prompt(ctx.session, incident=incident)
    return StatusChangedOut(**_out(ctx.session, incident, ctx).model_dump(), status_page=prompt)


@router.post("/incidents/{number}/severity", response_model=IncidentOut)
def change_severity(number: str, body: SeverityIn, ctx: Responder) -> IncidentOut:
    incident = service.change_severity(
        ctx.session,
        incident=_writing(ctx, number),
        severity=body.severity,
        reason=body.reason,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    return _out(ctx.session, incident, ctx)


@router.post("/incidents/{number}/ack", response_model=IncidentOut, summary="Acknowledge (first acker is IC)")
def acknowledge(number: str, ctx: Responder) -> IncidentOut:
    incident = service.acknowledge(
        ctx.session, incident=_writing(ctx, number), person=ctx.principal.person, now=ctx.now
    )
    return _out(ctx.session, incident, ctx)


# ---------------------------------------------------------------- roles


def _roles(ctx: Ctx, incident: Incident) -> list[RoleOut]:
    return [RoleOut.of(v, now=ctx.now) for v in roles.view(ctx.session, incident=incident, now=ctx.now)]


@router.get("/incidents/{number}/roles", response_model=list[RoleOut])
def list_roles(number: str, ctx: Reader) -> list[RoleOut]:
    return _roles(ctx, timeline.incident(ctx.session, number=number))


@router.post("/incidents/{number}/roles/{role}/assign", response_model=RoleOut)
def assign_role(number: str, role: str, body: PersonIn, ctx: Responder) -> RoleOut:
    view = roles.assign(
        ctx.session,
        incident=_writing(ctx, number),
        role=role,
        person=body.person,
        actor=ctx.principal.person,
        is_admin=ctx.principal.is_admin,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return RoleOut.of(view, now=ctx.now)


@router.post("/incidents/{number}/roles/{role}/offer", response_model=OfferOut, status_code=201)
def offer_role(number: str, role: str, body: PersonIn, ctx: Responder) -> OfferOut:
    offer = roles.offer(
        ctx.session,
        incident=_writing(ctx, number),
        role=role,
        person=body.person,
        actor=ctx.principal.person,
        is_admin=ctx.principal.is_admin,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return OfferOut.of(offer, now=ctx.now)


@router.post("/incidents/{number}/roles/{role}/accept", response_model=OfferOut)
def accept_role(number: str, role: str, ctx: Responder) -> OfferOut:
    offer = roles.accept(
        ctx.session, incident=_writing(ctx, number), role=role, actor=ctx.principal.person, now=ctx.now
    )
    return OfferOut.of(offer, now=ctx.now)


@router.post("/incidents/{number}/roles/{role}/decline", response_model=OfferOut)
def decline_role(number: str, role: str, ctx: Responder) -> OfferOut:
    offer = roles.decline(
        ctx.session, incident=_writing(ctx, number), role=role, actor=ctx.principal.person, now=ctx.now
    )
    return OfferOut.of(offer, now=ctx.now)


@router.post("/incidents/{number}/roles/{role}/withdraw", response_model=OfferOut)
def withdraw_offer(number: str, role: str, ctx: Responder) -> OfferOut:
    """Take back a pending offer (the offerer, the role's holder, the IC or an admin)."""
    offer = roles.withdraw(
        ctx.session,
        incident=_writing(ctx, number),
        role=role,
        actor=ctx.principal.person,
        is_admin=ctx.principal.is_admin,
        now=ctx.now,
    )
    return OfferOut.of(offer, now=ctx.now)


# ---------------------------------------------------------------- timeline and comms


def _markdown(ctx: Ctx, incident: Incident) -> Response:
    config = service.config_of(ctx.session)
    items = timeline.all_entries(ctx.session, incident=incident)
    held = [(v.label, v.holder) for v in roles.view(ctx.session, incident=incident, now=ctx.now)]
    text = timeline.to_markdown(incident, items, timezone=config.settings.timezone, roles=held)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.get(
    "/incidents/{number}/timeline",
    response_model=TimelineOut,
    summary="Entries after a cursor (follow it live); ?format=md for Markdown",
)
def read_timeline(
    number: str,
    ctx: Reader,
    after: Annotated[int | None, Query(description="the next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=timeline.MAX_PAGE)] = 100,
    format: Annotated[str, Query(description="json | md")] = "json",
) -> TimelineOut | Response:
    incident = timeline.incident(ctx.session, number=number)
    fmt = rules.choose(format.lower(), ("json", "md"), "format")
    if fmt == "md":
        return _markdown(ctx, incident)
    items = timeline.entries(ctx.session, incident=incident, after=after, limit=limit)
    return TimelineOut(
        number=rules.format_number(incident.number),
        status=incident.status,
        timezone=_timezone(ctx),
        entries=[EntryOut.model_validate(e) for e in items],
        next_cursor=items[-1].id if items else (after or 0),
    )


@router.get("/incidents/{number}/timeline.md", summary="The live document as Markdown (org timezone)")
def export_timeline(number: str, ctx: Reader) -> Response:
    return _markdown(ctx, timeline.incident(ctx.session, number=number))


@router.post("/incidents/{number}/timeline", response_model=EntryOut, status_code=201)
def add_entry(number: str, body: EntryIn, ctx: Responder) -> EntryOut:
    entry = service.add_entry(
        ctx.session,
        incident=_writing(ctx, number),
        kind=body.kind,
        text=body.text,
        actor=ctx.principal.person,
        now=ctx.now,
        corrects=body.corrects,
    )
    return EntryOut.model_validate(entry)


@router.post("/incidents/{number}/comms", response_model=EntryOut, status_code=201)
def post_comms(number: str, body: CommsIn, ctx: Responder) -> EntryOut:
    entry = comms.post(
        ctx.session,
        incident=_writing(ctx, number),
        kind=body.kind,
        audience=body.audience,
        body=body.body,
        actor=ctx.principal.person,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return EntryOut.model_validate(entry)


@router.get("/incidents/{number}/comms/template", response_model=CommsTemplateOut)
def comms_template(number: str, ctx: Reader, kind: str = "update") -> CommsTemplateOut:
    incident = timeline.incident(ctx.session, number=number)
    body = comms.render(incident, kind, service.config_of(ctx.session), now=ctx.now)
    return CommsTemplateOut(kind=kind, body=body)


# ---------------------------------------------------------------- the public status page


@router.post(
    "/incidents/{number}/public-updates",
    response_model=PublicUpdateOut,
    status_code=201,
    summary="Publish an update to the status page (the Comms holder or the IC)",
)
def publish_update(number: str, body: PublishIn, ctx: Responder) -> PublicUpdateOut:
    incident = _writing(ctx, number)
    update = publish.publish(
        ctx.session,
        incident=incident,
        title=body.title,
        message=body.message,
        state=body.state,
        services=body.services,
        actor=ctx.principal.person,
        config=service.config_of(ctx.session),
        now=ctx.now,
    )
    return PublicUpdateOut.of(update, number=incident.number)


@router.get(
    "/incidents/{number}/public-updates",
    response_model=list[PublicUpdateOut],
    summary="What was published to the status page, newest first",
)
def public_updates(number: str, ctx: Reader) -> list[PublicUpdateOut]:
    incident = timeline.incident(ctx.session, number=number)
    return [
        PublicUpdateOut.of(u, number=incident.number) for u in publish.history(ctx.session, incident=incident)
    ]


@router.post(
    "/status/maintenance",
    response_model=MaintenanceOut,
    status_code=201,
    summary="Schedule a maintenance window on the status page (an admin, or who speaks for its services)",
)
def schedule_maintenance(body: MaintenanceIn, ctx: Responder) -> MaintenanceOut:
    window = maintenance.schedule(
        ctx.session,
        config=service.config_of(ctx.session),
        principal=ctx.principal,
        title=body.title,
        message=body.message,
        services=body.services,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        now=ctx.now,
    )
    ctx.audit_target(f"maintenance:{window.id}", services=window.services)
    return MaintenanceOut.model_validate(window)


@router.get(
    "/status/maintenance",
    response_model=list[MaintenanceOut],
    summary="Maintenance windows on now or upcoming, soonest first (past=true: every one, newest first)",
)
def list_maintenance(ctx: Reader, past: bool = False) -> list[MaintenanceOut]:
    windows = maintenance.listing(ctx.session, now=ctx.now, include_past=past)
    return [MaintenanceOut.model_validate(w) for w in windows]


@router.post(
    "/status/maintenance/{window_id}/cancel",
    response_model=MaintenanceOut,
    summary="Cancel a maintenance window not yet over (it ends at once)",
)
def cancel_maintenance(window_id: RowId, ctx: Responder) -> MaintenanceOut:
    ctx.audit_target(f"maintenance:{window_id}")
    window = maintenance.cancel(
        ctx.session,
        config=service.config_of(ctx.session),
        principal=ctx.principal,
        window_id=window_id,
        now=ctx.now,
    )
    return MaintenanceOut.model_validate(window)
