"""Postmortems (guide §5): the list, the editor by section with the blameless warnings inline, the state
buttons, the action items table, and the action items board (overdue first) — ``postmortems.service`` and
``postmortems.actions`` exactly as ``/api/v1/postmortems`` and ``/api/v1/action-items`` call them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from commandpost.deps import Ctx, RowId
from commandpost.errors import NotFound, ValidationFailed
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline as incident_timeline
from commandpost.postmortems import actions, praise, reminders, service, smart, states
from commandpost.postmortems.sections import HINTS, SECTION_NAMES, SECTIONS
from commandpost.web.auth import PageReader, PageResponder, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]


@router.get("/postmortems")
def postmortem_list(request: Request, ctx: PageReader, status: str = "") -> Response:
    rows = service.list_postmortems(ctx.session, now=ctx.now, status=status or None)
    return page(
        request,
        "postmortems.html",
        nav="postmortems",
        rows=rows,
        status=status,
        statuses=states.STATUSES,
        labels=states.STATUS_LABELS,
        counts=actions.counts(ctx.session, now=ctx.now),
        starred=praise.of_the_month(ctx.session, now=ctx.now),
    )


def _editor(request: Request, ctx: Ctx, number: str) -> Response:
    incident = incident_timeline.incident(ctx.session, number=number)
    config = service.config_of(ctx.session)
    try:
        _incident, pm = service.find(ctx.session, number=incident.number)
    except NotFound as missing:
        return page(
            request,
            "postmortem.html",
            nav="postmortems",
            incident=incident,
            number=incident_rules.format_number(incident.number),
            pm=None,
            why=missing.message,
            can_start=incident.status in service.RESOLVED,
        )
    flags = service.blame_flags(config, pm)
    return page(
        request,
        "postmortem.html",
        nav="postmortems",
        incident=incident,
        number=incident_rules.format_number(incident.number),
        pm=pm,
        sections=SECTIONS,
        hints=HINTS,
        flags={name: [f for f in flags if f.section == name] for name in SECTION_NAMES},
        items=service.items_of(ctx.session, pm=pm),
        today=reminders.local_today(ctx.now, config.settings.timezone),
        people=config.people,
        runbooks=sorted(r.slug for r in config.runbooks),
        labels=states.STATUS_LABELS,
        types=smart.ACTION_TYPES,
        item_statuses=states.ACTION_STATUSES,
        revisions=service.revisions(ctx.session, pm=pm),
        stars=praise.stars_of(ctx.session, number=incident.number, person=ctx.principal.person),
        can_start=False,
        why="",
    )


@router.get("/postmortems/{number}")
def postmortem_page(request: Request, number: str, ctx: PageReader) -> Response:
    return _editor(request, ctx, number)


def _back(ctx: Ctx, number: str) -> Response:
    label = incident_rules.format_number(incident_rules.parse_number(number))
    ctx.audit_target(f"postmortem:{label}")
    return RedirectResponse(f"/postmortems/{label}", status_code=303)


@router.post("/postmortems/{number}/star")
def star(number: str, ctx: PageResponder, remove: Text = "") -> Response:
    """The ☆ button of a Final postmortem (praise); ``remove`` takes the star back."""
    if remove:
        praise.unstar(ctx.session, number=number, person=ctx.principal.person)
    else:
        praise.star(ctx.session, number=number, person=ctx.principal.person, now=ctx.now)
    return _back(ctx, number)


@router.post("/postmortems/{number}/start")
def start(number: str, ctx: PageResponder) -> Response:
    service.start(ctx.session, number=number, actor=ctx.principal.person, now=ctx.now)
    return _back(ctx, number)


Section = Annotated[str | None, Form()]


@router.post("/postmortems/{number}/sections")
def edit_sections(
    number: str,
    ctx: PageResponder,
    title: Section = None,
    no_action_reason: Section = None,
    summary: Section = None,
    user_impact: Section = None,
    business_impact: Section = None,
    timeline: Section = None,
    root_cause: Section = None,
    technical_factor: Section = None,
    process_factor: Section = None,
    detection: Section = None,
    went_well: Section = None,
    went_poorly: Section = None,
    got_lucky: Section = None,
) -> Response:
    """The editor posts every section at once; the service keeps what did not change."""
    given = locals()
    sections = {name: given[name] for name in SECTION_NAMES if given.get(name) is not None}
    service.edit(
        ctx.session,
        number=number,
        actor=ctx.principal.person,
        now=ctx.now,
        sections=sections,
        title=title,
        no_action_reason=no_action_reason,
    )
    return _back(ctx, number)


@router.post("/postmortems/{number}/submit")
def submit(number: str, ctx: PageResponder, reviewer: Text = "") -> Response:
    service.submit(ctx.session, number=number, reviewer=reviewer, actor=ctx.principal.person, now=ctx.now)
    return _back(ctx, number)


@router.post("/postmortems/{number}/approve")
def approve(number: str, ctx: PageResponder) -> Response:
    service.approve(ctx.session, number=number, actor=ctx.principal.person, now=ctx.now)
    return _back(ctx, number)


@router.post("/postmortems/{number}/reopen")
def reopen(number: str, ctx: PageResponder, to: Text = "") -> Response:
    service.reopen(ctx.session, number=number, to=to or None, actor=ctx.principal.person, now=ctx.now)
    return _back(ctx, number)


def _due(value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            f"due: {value!r} is not a date (YYYY-MM-DD)", details={"field": "due"}
        ) from None


@router.post("/postmortems/{number}/action-items")
def add_item(
    number: str,
    ctx: PageResponder,
    title: Text = "",
    type: Text = "",
    owner: Text = "",
    due: Text = "",
    ticket: Text = "",
    verification: Text = "",
    runbook: Text = "",
) -> Response:
    incident, pm = service.find(ctx.session, number=number, for_update=True)
    actions.add(
        ctx.session,
        pm=pm,
        incident=incident,
        title=title,
        type=type,
        owner=owner or None,
        due=_due(due),
        ticket=ticket or None,
        verification=verification or None,
        runbook=runbook or None,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    return _back(ctx, number)


@router.post("/action-items/{item_id}/status")
def set_item_status(
    item_id: RowId, ctx: PageResponder, status: Text = "", note: Text = "", back: Text = ""
) -> Response:
    changes: dict[str, str] = {"status": status}
    if note:
        changes["note"] = note
    item = actions.update_item(
        ctx.session, item_id=item_id, changes=changes, actor=ctx.principal.person, now=ctx.now
    )
    ctx.audit_target(f"action-item:{item.id}", status=item.status)
    target = back if back.startswith("/") and not back.startswith("//") else "/action-items"
    return RedirectResponse(target, status_code=303)


@router.get("/action-items")
def board(request: Request, ctx: PageReader, owner: str = "") -> Response:
    overdue = actions.list_items(ctx.session, now=ctx.now, overdue=True, owner=owner or None)
    late = {item.id for item, _n in overdue}
    rest = [
        row
        for status in states.OPEN_ACTION_STATUSES
        for row in actions.list_items(ctx.session, now=ctx.now, status=status, owner=owner or None)
        if row[0].id not in late
    ]
    done = actions.list_items(ctx.session, now=ctx.now, status="done", owner=owner or None, limit=50)
    return page(
        request,
        "action_items.html",
        nav="postmortems",
        overdue=overdue,
        open_items=sorted(rest, key=lambda row: (row[0].due, row[0].id)),
        done=done,
        owner=owner,
        item_statuses=states.ACTION_STATUSES,
    )
