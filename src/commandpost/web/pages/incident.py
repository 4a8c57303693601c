"""One incident's command post (guide §1-2): header, actions, roles, live timeline, runbook, comms, alerts.

The header is the phone's first screen (issue 18): how long, one Acknowledge (or who acked, when),
the IC, who is on call for the service and what the escalation does next, the runbook's first move
and the channel to copy, the alert's source (:func:`_first_screen`). ``timeline.md`` is the live
document as Markdown for a logged-in reader.

Beside the status control, while "resolved" is one of the allowed next states, the Verify evidence
panel lists every attached runbook's Verify steps with their state, who and when (guide §3-1 step 4:
is it really fixed?) — shown, never enforced: the IC decides when to resolve.

The page renders the newest :data:`TIMELINE_PAGE` entries server-side (an incident with thousands
of entries still renders fast) with a "load earlier" link; ``app.js`` then polls
``/incidents/{n}/live?after=<cursor>`` every 1.5 s and prepends new entries — and refreshes the
header, roles and checklist panels — without a reload.

The Status page panel shows what the public sees of the incident (nothing until Comms or the IC
publishes) and, once the incident is resolved while the page still shows it unresolved, the prompt
to publish the resolved update; its publish form is the API's ``public-updates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.orm import Session

from commandpost.alerts import service as alerts_service
from commandpost.deps import ROW_ID_MAX, Ctx
from commandpost.incidents import comms, publish, roles, rules, service, timeline
from commandpost.incidents.models import Incident
from commandpost.incidents.schemas import IncidentOut
from commandpost.paging.schemas import EscalationOut
from commandpost.policy.opsfiles import OpsConfig
from commandpost.postmortems import service as postmortem_service
from commandpost.runbooks import checklist
from commandpost.runbooks import service as runbook_service
from commandpost.runbooks.document import MITIGATE, VERIFY, FirstMove, Section, Step
from commandpost.runbooks.models import RunbookStepState
from commandpost.similar import service as similar_service
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
    move: FirstMove | None


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
                move=runbook_service.first_move(attachment.view),
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


@dataclass(frozen=True)
class Move:
    """The runbook's first move on the first screen: the step's words without its "First move:"
    label and command (shown apart, with a copy button), and its state once someone marked it."""

    slug: str
    text: str
    command: str | None
    state: RunbookStepState | None


def first_move(incident: Incident, found: list[Checklist], config: OpsConfig) -> Move | None:
    """The incident's runbook's first move: from its attached checklist (the version being ticked),
    else the first attached one, else the applied runbook the incident names (not attached yet)."""
    attached = next((c for c in found if c.slug == incident.runbook), found[0] if found else None)
    if attached is not None:
        move, slug, states = attached.move, attached.slug, attached.states
    else:
        runbook = config.runbook(incident.runbook) if incident.runbook else None
        if runbook is None:
            return None
        move, slug, states = runbook_service.first_move(runbook), runbook.slug, {}
    if move is None:
        return None
    return Move(slug, move.words, move.command, states.get(move.step_id))


def _first_screen(
    ctx: Ctx, incident: Incident, found: list[Checklist], escalation: EscalationOut | None
) -> dict[str, Any]:
    """What a responder woken at 3 a.m. needs above the fold: who acked, who is on call and what the
    escalation does next, the first move, the command post channel, the alert's source, how long."""
    config = service.config_of(ctx.session)
    slack_on = bool(ctx.request.app.state.settings.slack_bot_token.get_secret_value())
    acked_by = incident.acknowledged_by or (incident.created_by if incident.acknowledged_at else None)
    lasted: timedelta | None = (
        incident.resolved_at - incident.detected_at
        if incident.resolved_at and not rules.is_open(incident.status)
        else None
    )
    return {
        "acked_by": acked_by,
        "lasted": lasted,
        "on_call": extensions.on_call_now(ctx.session, incident, now=ctx.now),
        "next_step": extensions.next_step(ctx.session, incident, escalation, now=ctx.now),
        "move": first_move(incident, found, config),
        "channel": extensions.channel_of(ctx.session, incident, slack_on=slack_on),
        "source": extensions.source_link(ctx.session, incident),
        "offer_to": extensions.offerable(ctx.session, config.people),
    }


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
        "escalation": (escalation := extensions.escalation_of(ctx.session, incident)),
        **_first_screen(ctx, incident, found, escalation),
        "evidence": verify_evidence(found) if "resolved" in rules.allowed_next(incident.status) else None,
        "public": (shown := publish.latest(ctx.session, incident=incident)),
        "public_affected": publish.affected(shown.services) if shown else "",
        "public_prompt": publish.resolve_prompt(ctx.session, incident=incident),
        "drill": publish.is_drill(incident),
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
        allowed=offered_statuses(incident.status),
        comms_templates=templates,
        cadence=config.comms_cadence(incident.severity),
        alerts=alerts_service.incident_alerts(ctx.session, number=incident.number),
        changes=changes,
        pages=extensions.pages_of(ctx.session, incident),
        role_labels=rules.ROLE_LABELS,
        service_names=[s.name for s in config.services],
        public_states=publish.PUBLIC_STATES,
        service_labels=publish.SERVICE_LABELS,
        similar=similar_service.for_incident(ctx.session, incident=incident),
    )


def offered_statuses(status: str) -> list[str]:
    """The status control's choices: the transitions the rules allow, but "closed" only once resolved
    (closing straight from an open status skips the resolve the postmortem and status page need; the
    API still can)."""
    return [s for s in rules.allowed_next(status) if s != "closed" or status == "resolved"]


@router.get("/incidents/{number}/timeline.md")
def export_markdown(request: Request, number: str, ctx: PageReader) -> Response:
    """The live document as Markdown for the logged-in reader (the API's ``timeline.md`` needs a token),
    times in the reader's timezone."""
    incident = timeline.incident(ctx.session, number=number)
    items = timeline.all_entries(ctx.session, incident=incident)
    held = [(v.label, v.holder) for v in roles.view(ctx.session, incident=incident, now=ctx.now)]
    text = timeline.to_markdown(incident, items, timezone=request.state.timezone, roles=held)
    name = rules.format_number(incident.number)
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{name}-timeline.md"'},
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
        "org_timezone": request.state.org_timezone,
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
            "status-page": _fragment("incident/published.html", **values),
        }
        body["more"] = len(fresh) == LIVE_PAGE
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
