"""Incidents: the list (open and recent, filters, badges) and the five-second Declare form (guide §2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.deps import Ctx
from commandpost.errors import ValidationFailed
from commandpost.incidents import roles, rules, service
from commandpost.incidents.models import Incident
from commandpost.incidents.schemas import IncidentOut
from commandpost.web.auth import PageReader, PageResponder, PageRoute, Refused
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
RECENT = 50


def _rows(ctx: Ctx, incidents: list[Incident]) -> list[IncidentOut]:
    ics = roles.ic_holders(ctx.session, incident_ids=[i.id for i in incidents])
    tz = service.config_of(ctx.session).settings.timezone
    return [IncidentOut.of(i, ic=ics.get(i.id), now=ctx.now, timezone=tz) for i in incidents]


@router.get("/")
def home() -> Response:
    return RedirectResponse("/incidents", status_code=303)


@router.get("/incidents")
def incident_list(
    request: Request, ctx: PageReader, status: str = "", severity: str = "", service_name: str = ""
) -> Response:
    config = service.config_of(ctx.session)
    filtered = bool(status or severity or service_name)
    if filtered:
        sections = [
            (
                "Matching incidents",
                service.list_incidents(
                    ctx.session,
                    status=status or None,
                    severity=severity or None,
                    service=service_name or None,
                    limit=200,
                ),
            )
        ]
    else:
        open_ = service.list_incidents(ctx.session, status="open", limit=200)
        recent = [i for i in service.list_incidents(ctx.session, limit=RECENT) if not rules.is_open(i.status)]
        sections = [("Open", open_), ("Recent", recent)]
    return page(
        request,
        "incidents.html",
        nav="incidents",
        sections=[(title, _rows(ctx, rows)) for title, rows in sections],
        filtered=filtered,
        filters={"status": status, "severity": severity, "service_name": service_name},
        statuses=service.STATUS_FILTERS,
        severities=list(config.severities),
        services=[s.name for s in config.services],
    )


def _declare_form(
    request: Request, ctx: Ctx, *, values: dict[str, str], error: str = "", status: int = 200
) -> Response:
    config = service.config_of(ctx.session)
    return page(
        request,
        "declare.html",
        status_code=status,
        nav="declare",
        severities=config.severities,
        services=config.services,
        values=values,
        error=error,
    )


@router.get("/declare")
def declare_form(request: Request, ctx: PageResponder, service_name: str = "") -> Response:
    return _declare_form(request, ctx, values={"title": "", "severity": "", "service": service_name})


@router.post("/declare")
def declare(
    request: Request,
    ctx: PageResponder,
    title: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    service_name: Annotated[str, Form(alias="service")] = "",
    summary: Annotated[str, Form()] = "",
    page: Annotated[str, Form()] = "",
) -> Response:
    values = {"title": title, "severity": severity, "service": service_name, "summary": summary, "page": page}
    try:
        incident = service.declare(
            ctx.session,
            title=title,
            severity=severity or "",
            service=service_name or None,
            summary=summary or None,
            actor=ctx.principal.person,
            now=ctx.now,
            page=page == "yes",
        )
    except ValidationFailed as exc:
        raise Refused(_declare_form(request, ctx, values=values, error=exc.message, status=422)) from None
    number = rules.format_number(incident.number)
    ctx.audit_target(f"incident:{number}", severity=incident.severity, service=incident.service)
    return RedirectResponse(f"/incidents/{number}", status_code=303)
