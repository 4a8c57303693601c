"""One incident's command post (guide §1-2): header, actions, roles, live timeline, runbook, comms, alerts.

Beside the status control, while "resolved" is one of the allowed next states, the Verify evidence
panel lists every attached runbook's Verify steps with their state, who and when (guide §3-1 step 4:
is it really fixed?) — shown, never enforced: the IC decides when to resolve.

The page renders the newest :data:`TIMELINE_PAGE` entries server-side (an incident with thousands
of entries still renders fast) with a "load earlier" link; ``app.js`` then polls
``/incidents/{n}/live?after=<cursor>`` every 1.5 s and prepends new entries — and refreshes the
header, roles and checklist panels — without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from commandpost.alerts import service as alerts_service
from commandpost.deps import ROW_ID_MAX, Ctx
from commandpost.incidents import comms, roles, rules, service, timeline
from commandpost.incidents.models import Incident
from commandpost.incidents.schemas import IncidentOut
from commandpost.postmortems import service as postmortem_service
from commandpost.runbooks import checklist
from commandpost.runbooks import service as runbook_service
from commandpost.runbooks.document import MITIGATE, VERIFY, Section, Step
from commandpost.runbooks.models import RunbookStepState
from commandpost.web import extensions
from commandpost.web.auth import PageReader, PageRoute
from commandpost.web.render import ENV, page

router = APIRouter(route_class=PageRoute, include_in_schema=False)
TIMELINE_PAGE = 200
LIVE_PAGE = 200


@dataclass(frozen=True)
class Checklist:
    """An attached runbook as the panel shows it: Mitigate first, step states, who may tick."""

    slug: str
    title: str
    source: str
    outdated: bool
    sections: list[Section]
    states: dict[str, RunbookStepState]
    progress: dict[str, int]


def checklists(session: Session, incident: Incident) -> list[Checklist]:
    out = []
    for attachment in runbook_service.attachments(session, incident=incident):
        out.append(
            Checklist(
                slug=attachment.slug,
                title=attachment.title,
                source=attachment.source,
                outdated=attachment.outdated,
                sections=[s for s in checklist.ordered_sections(attachment.view) if s.steps or s.cautions],
                states=attachment.states,
                progress=checklist.progress(attachment.view.steps, attachment.states),
            )
        )
    return out


@dataclass(frozen=True)
class VerifyStep:
    step: Step
    state: RunbookStepState | None  # None: not marked yet


@dataclass(frozen=True)
class VerifyRunbook:
    slug: str
    title: str
    steps: list[VerifyStep]


@dataclass(frozen=True)
class Evidence:
    """The Verify steps of every attached runbook: what the move to resolved is judged on.

    ``done`` counts the same rows as ``runbooks.service.verify_evidence`` (Verify steps marked done),
    read from the checklists the page already loaded — no extra query.
    """

    runbooks: list[VerifyRunbook]

    @property
    def total(self) -> int:
        return sum(len(r.steps) for r in self.runbooks)

    @property
    def done(self) -> int:
        return sum(1 for r in self.runbooks for v in r.steps if v.state and v.state.state == "done")


def verify_evidence(found: list[Checklist]) -> Evidence:
    out = []
    for c in found:
        section = next((s for s in c.sections if s.number == VERIFY), None)
        steps = [VerifyStep(step, c.states.get(step.id)) for step in (section.steps if section else ())]
        out.append(VerifyRunbook(c.slug, c.title, steps))
    return Evidence(out)


def _panels(ctx: Ctx, incident: Incident) -> dict[str, Any]:
    """What the live parts of the page are made of (header, roles, checklist, Verify evidence)."""
    config = service.config_of(ctx.session)
    ic = roles.ic_holder(ctx.session, incident=incident)
    ops, _ = roles.holder(ctx.session, incident=incident, role="ops")
    return {
        "i": IncidentOut.of(incident, ic=ic, now=ctx.now, timezone=config.settings.timezone),
        "roles": roles.view(ctx.session, incident=incident, now=ctx.now),
        "ops_holder": ops,
        "checklists": (found := checklists(ctx.session, incident)),
        "attachable": sorted({r.slug for r in config.runbooks} - {c.slug for c in found}),
        "mitigate": MITIGATE,
        "freeze": extensions.slo_freeze(ctx.session, incident, now=ctx.now),
        "postmortem": postmortem_service.of_incident(ctx.session, incident=incident),
        "escalation": extensions.escalation_of(ctx.session, incident),
        "evidence": verify_evidence(found) if "resolved" in rules.allowed_next(incident.status) else None,
    }


Before = Annotated[int | None, Query(ge=1, le=ROW_ID_MAX, description="an entry id")]
After = Annotated[int | None, Query(ge=0, le=ROW_ID_MAX, description="the cursor: an entry id")]


@router.get("/incidents/{number}")
def command_post(request: Request, number: str, ctx: PageReader, before: Before = None) -> Response:
    incident = timeline.incident(ctx.session, number=number)
    config = service.config_of(ctx.session)
    entries = timeline.newest_entries(ctx.session, incident=incident, before=before, limit=TIMELINE_PAGE)
    newest_shown = max((e.id for e in entries), default=0)
    is_open = incident.status != "closed"
    templates = (
        {kind: comms.render(incident, kind, config, now=ctx.now) for kind in rules.COMMS_KINDS}
        if is_open
        else {}
    )
    _, changes = alerts_service.incident_changes(ctx.session, number=incident.number, now=ctx.now)
    return page(
        request,
        "incident/page.html",
        nav="incidents",
        **_panels(ctx, incident),
        entries=entries,
        cursor=timeline.newest_id(ctx.session, incident=incident) if before else newest_shown,
        earlier=entries[-1].id if len(entries) == TIMELINE_PAGE else None,
        total=timeline.count(ctx.session, incident=incident),
        windowed=before is not None,
        people=config.people,
        severities=config.severities,
        allowed=rules.allowed_next(incident.status),
        comms_templates=templates,
        cadence=config.comms_cadence(incident.severity),
        alerts=alerts_service.incident_alerts(ctx.session, number=incident.number),
        changes=changes,
        pages=extensions.pages_of(ctx.session, incident),
        role_labels=rules.ROLE_LABELS,
    )


def _fragment(name: str, **values: Any) -> str:
    return ENV.get_template(name).render(**values)


@router.get("/incidents/{number}/live")
def live(
    request: Request, number: str, ctx: PageReader, after: After = None, before: Before = None
) -> Response:
    """JSON for ``app.js``: new entries after the cursor (with refreshed panels), or a page before one."""
    incident = timeline.incident(ctx.session, number=number)
    shared = {
        "timezone": request.state.timezone,
        "now": ctx.now,
        "user": ctx.principal,
        "csrf": request.state.web.csrf_token,
    }
    if before is not None:
        older = timeline.newest_entries(ctx.session, incident=incident, before=before, limit=TIMELINE_PAGE)
        return JSONResponse(
            {
                "html": _fragment("incident/entries.html", entries=older, **shared),
                "earlier": older[-1].id if len(older) == TIMELINE_PAGE else None,
            }
        )
    fresh = timeline.entries(ctx.session, incident=incident, after=after or 0, limit=LIVE_PAGE)
    body: dict[str, Any] = {"cursor": fresh[-1].id if fresh else (after or 0), "count": len(fresh)}
    if fresh:
        values = {**shared, **_panels(ctx, incident), "people": service.config_of(ctx.session).people}
        body["html"] = _fragment("incident/entries.html", entries=list(reversed(fresh)), **values)
        body["panels"] = {
            "header": _fragment("incident/header.html", **values),
            "roles": _fragment("incident/roles.html", **values),
            "checklist": _fragment("incident/checklist.html", **values),
            "evidence": _fragment("incident/evidence.html", **values),
        }
        body["more"] = len(fresh) == LIVE_PAGE
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
