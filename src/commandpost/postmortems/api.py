"""The postmortems API under ``/api/v1`` (scope ``responder`` writes, ``read`` reads). Thin: services decide.

``{number}`` is the incident's number (``7`` or ``INC-7``): one postmortem per incident.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy.exc import SQLAlchemyError

from commandpost import wiring
from commandpost.db.engine import transaction
from commandpost.db.unavailable import unavailable
from commandpost.deps import Ctx, Reader, Responder, RowId, clock_of
from commandpost.errors import CommandpostError, NotFound
from commandpost.incidents import rules as incident_rules
from commandpost.incidents import timeline
from commandpost.incidents.models import Incident
from commandpost.postmortems import actions, service, tickets, tracker_hooks, trackers
from commandpost.postmortems.models import ActionItem, Postmortem
from commandpost.postmortems.schemas import (
    ActionCountsOut,
    ActionItemAddIn,
    ActionItemOut,
    ActionItemPatchIn,
    PostmortemOut,
    PostmortemPatchIn,
    PostmortemSummaryOut,
    ReopenIn,
    RevisionOut,
    SubmitIn,
    TicketIn,
)
from commandpost.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["postmortems"])


def _out(ctx: Ctx, incident: Incident, pm: Postmortem) -> PostmortemOut:
    config = service.config_of(ctx.session)
    return PostmortemOut.of(
        pm,
        number=incident.number,
        items=service.items_of(ctx.session, pm=pm),
        flags=service.blame_flags(config, pm),
        blameless_mode=config.settings.postmortem.blameless,
        timezone=config.settings.timezone,
        now=ctx.now,
        links=tickets.links_of(ctx.session, [i.id for i in service.items_of(ctx.session, pm=pm)]),
    )


def _reread(ctx: Ctx, number: str) -> PostmortemOut:
    incident, pm = service.find(ctx.session, number=number)
    return _out(ctx, incident, pm)


def _audit(ctx: Ctx, number: str, **details: object) -> None:
    ctx.audit_target(
        f"postmortem:{incident_rules.format_number(incident_rules.parse_number(number))}", **details
    )


def _item_out(ctx: Ctx, item: ActionItem) -> ActionItemOut:
    incident = ctx.session.get_one(Incident, item.incident_id)
    timezone = service.config_of(ctx.session).settings.timezone
    link = tickets.link_of(ctx.session, item.id)
    return ActionItemOut.of(item, number=incident.number, timezone=timezone, now=ctx.now, link=link)


def _items_out(ctx: Ctx, rows: list[tuple[ActionItem, int]]) -> list[ActionItemOut]:
    timezone = service.config_of(ctx.session).settings.timezone
    links = tickets.links_of(ctx.session, [item.id for item, _n in rows])
    return [
        ActionItemOut.of(item, number=n, timezone=timezone, now=ctx.now, link=links.get(item.id))
        for item, n in rows
    ]


# ---------------------------------------------------------------- postmortems


@router.get("/postmortems", response_model=list[PostmortemSummaryOut], summary="Postmortems, newest first")
def list_postmortems(
    ctx: Reader,
    status: Annotated[str | None, Query(description="not_required | draft | in_review | final")] = None,
    since: Annotated[str | None, Query(description="e.g. 30d: Final ones finalized since then")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PostmortemSummaryOut]:
    rows = service.list_postmortems(ctx.session, now=ctx.now, status=status, since=since, limit=limit)
    return [PostmortemSummaryOut.of(pm, incident.number) for pm, incident in rows]


@router.post(
    "/postmortems/{number}",
    response_model=PostmortemOut,
    status_code=201,
    summary="Start a postmortem now (evaluates the criteria; drafts one even if none applies)",
)
def start(number: str, ctx: Responder) -> PostmortemOut:
    _audit(ctx, number)
    service.start(ctx.session, number=number, actor=ctx.principal.person, now=ctx.now)
    return _reread(ctx, number)


@router.get(
    "/postmortems/{number}", response_model=PostmortemOut, summary="Status, sections, criteria, items"
)
def show(number: str, ctx: Reader) -> PostmortemOut:
    return _reread(ctx, number)


@router.get(
    "/postmortems/{number}/markdown",
    summary="The postmortem as Markdown (guide §5-3 template); ?revision=N for a Final revision",
    response_class=PlainTextResponse,
)
def markdown(
    number: str, ctx: Reader, revision: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None
) -> Response:
    _incident, pm = service.find(ctx.session, number=number)
    text = service.markdown(ctx.session, pm=pm, revision=revision)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


@router.patch("/postmortems/{number}", response_model=PostmortemOut, summary="Edit sections, title, author")
def edit(number: str, body: PostmortemPatchIn, ctx: Responder) -> PostmortemOut:
    _audit(ctx, number, sections=sorted(body.sections or {}))
    service.edit(
        ctx.session,
        number=number,
        actor=ctx.principal.person,
        now=ctx.now,
        sections=body.sections,
        title=body.title,
        author=body.author,
        no_action_reason=body.no_action_reason,
    )
    return _reread(ctx, number)


@router.post("/postmortems/{number}/submit", response_model=PostmortemOut, summary="Draft → In Review")
def submit(number: str, body: SubmitIn, ctx: Responder) -> PostmortemOut:
    _audit(ctx, number, reviewer=body.reviewer)
    service.submit(
        ctx.session, number=number, reviewer=body.reviewer, actor=ctx.principal.person, now=ctx.now
    )
    return _reread(ctx, number)


@router.post(
    "/postmortems/{number}/approve", response_model=PostmortemOut, summary="The reviewer approves: Final"
)
def approve(number: str, ctx: Responder) -> PostmortemOut:
    _audit(ctx, number)
    service.approve(ctx.session, number=number, actor=ctx.principal.person, now=ctx.now)
    return _reread(ctx, number)


@router.post(
    "/postmortems/{number}/reopen", response_model=PostmortemOut, summary="Back to Draft or In Review"
)
def reopen(number: str, ctx: Responder, body: ReopenIn | None = None) -> PostmortemOut:
    to = body.to if body else "draft"
    _audit(ctx, number, to=to)
    service.reopen(ctx.session, number=number, to=to, actor=ctx.principal.person, now=ctx.now)
    return _reread(ctx, number)


@router.get("/postmortems/{number}/revisions", response_model=list[RevisionOut], summary="Final revisions")
def list_revisions(number: str, ctx: Reader) -> list[RevisionOut]:
    _incident, pm = service.find(ctx.session, number=number)
    return [RevisionOut.model_validate(r) for r in service.revisions(ctx.session, pm=pm)]


@router.get("/postmortems/{number}/revisions/{revision}", response_model=RevisionOut)
def show_revision(number: str, revision: RowId, ctx: Reader) -> RevisionOut:
    _incident, pm = service.find(ctx.session, number=number)
    return RevisionOut.model_validate(service.get_revision(ctx.session, pm=pm, revision=revision))


# ---------------------------------------------------------------- action items


@router.post(
    "/postmortems/{number}/action-items",
    response_model=ActionItemOut,
    status_code=201,
    summary="Add a SMART action item (422 names the rule broken)",
)
def add_action_item(number: str, body: ActionItemAddIn, ctx: Responder) -> ActionItemOut:
    _audit(ctx, number, action_item=body.title)
    incident, pm = service.find(ctx.session, number=number, for_update=True)
    item = actions.add(
        ctx.session,
        pm=pm,
        incident=incident,
        title=body.title or "",
        type=body.type or "",
        owner=body.owner,
        due=body.due,
        ticket=body.ticket,
        verification=body.verification,
        runbook=body.runbook,
        ticket_follows=body.create_ticket or body.tracker is not None,
        actor=ctx.principal.person,
        now=ctx.now,
    )
    if body.create_ticket or body.tracker is not None:  # a tracker's refusal stores neither
        _create_ticket(ctx, item.id, body.tracker, added=True)
    return _item_out(ctx, item)


@router.get("/postmortems/{number}/action-items", response_model=list[ActionItemOut])
def postmortem_action_items(number: str, ctx: Reader) -> list[ActionItemOut]:
    incident = timeline.incident(ctx.session, number=number)
    return _items_out(ctx, actions.list_items(ctx.session, now=ctx.now, incident=incident))


@router.get("/action-items", response_model=list[ActionItemOut], summary="Action items by due day")
def list_action_items(
    ctx: Reader,
    overdue: Annotated[bool, Query(description="only open/in-progress items past their due day")] = False,
    owner: Annotated[str | None, Query(description="a handle")] = None,
    status: Annotated[str | None, Query(description="open | in_progress | done | wontfix")] = None,
    incident: Annotated[str | None, Query(description="INC-n")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ActionItemOut]:
    found = timeline.incident(ctx.session, number=incident) if incident else None
    rows = actions.list_items(
        ctx.session, now=ctx.now, overdue=overdue, owner=owner, status=status, incident=found, limit=limit
    )
    return _items_out(ctx, rows)


@router.get("/action-items/summary", response_model=ActionCountsOut, summary="Counts by status, and overdue")
def action_item_counts(ctx: Reader) -> ActionCountsOut:
    return ActionCountsOut(**actions.counts(ctx.session, now=ctx.now))


@router.get("/action-items/{item_id}", response_model=ActionItemOut)
def show_action_item(item_id: RowId, ctx: Reader) -> ActionItemOut:
    return _item_out(ctx, actions.get(ctx.session, item_id=item_id))


@router.patch(
    "/action-items/{item_id}",
    response_model=ActionItemOut,
    summary="Change fields or status (done, wontfix…)",
)
def update_action_item(item_id: RowId, body: ActionItemPatchIn, ctx: Responder) -> ActionItemOut:
    changes = body.model_dump(exclude_unset=True)
    ctx.audit_target(f"action-item:{item_id}", **{k: str(v) for k, v in changes.items()})
    item = actions.update_item(
        ctx.session, item_id=item_id, changes=changes, actor=ctx.principal.person, now=ctx.now
    )
    return _item_out(ctx, item)


# ---------------------------------------------------------------- tickets in the team's tracker


@router.post(
    "/action-items/{item_id}/ticket",
    response_model=ActionItemOut,
    status_code=201,
    summary="Create the item's ticket in the org's tracker (502/422/429 say what the tracker answered)",
)
def create_ticket(item_id: RowId, body: TicketIn, ctx: Responder) -> ActionItemOut:
    ctx.audit_target(f"action-item:{item_id}", ticket="create", tracker=body.tracker or "default")
    _create_ticket(ctx, item_id, body.tracker)
    return _item_out(ctx, actions.get(ctx.session, item_id=item_id))


def _create_ticket(ctx: Ctx, item_id: int, tracker: str | None, *, added: bool = False) -> None:
    """Ask the tracker with no transaction open: what to ask is read, and the request's transaction
    committed, first (on SQLite it held the one write lock alert intake and paging need); the link
    is stored after, in the request's second transaction with its audit row. ``added``: this
    request added the item only to ticket it, so a tracker's refusal takes the item back."""
    settings: Settings = ctx.request.app.state.settings
    plan = tickets.plan(ctx.session, item_id=item_id, tracker=tracker)
    ctx.session.commit()
    try:
        ticket = wiring.tracker_client(settings).create(
            plan.tracker, plan.section, title=plan.title, body=plan.body, now=ctx.now
        )
    except Exception:
        if added:
            tickets.withdraw(ctx.session, item_id=item_id)
            ctx.session.commit()
        raise
    try:
        tickets.link(
            ctx.session,
            plan=plan,
            ticket=ticket,
            actor=ctx.principal.person,
            now=ctx.now,
            sync_every=timedelta(seconds=settings.tracker_sync_seconds),
        )
    except CommandpostError as exc:
        raise tickets.unlinked(exc, ticket) from None
    except SQLAlchemyError as exc:
        failed = unavailable(exc) or CommandpostError(
            f"storing the ticket's link failed ({type(exc).__name__})"
        )
        raise tickets.unlinked(failed, ticket) from exc


@router.post(
    "/trackers/{tracker}/webhook",
    summary="A tracker's webhook (GitHub issues, GitLab Issue Hook, Jira issue_updated, Linear Issue): "
    "verified by its signature or token, then the ticket's state is applied",
    responses={401: {"description": "no signature, or a wrong one: nothing changed"}},
)
async def tracker_webhook(tracker: str, request: Request) -> JSONResponse:
    if tracker not in trackers.TRACKERS:
        raise NotFound(f"no tracker {tracker[:40]!r}; one of {', '.join(trackers.TRACKERS)}")
    body = await request.body()
    settings: Settings = request.app.state.settings
    secret_name = tracker_hooks.SECRET_VARS[tracker].removeprefix("COMMANDPOST_").lower()
    secret = getattr(settings, secret_name).get_secret_value()
    tracker_hooks.verify(tracker, headers=request.headers, body=body, secret=secret)
    now = clock_of(request).now()
    change = tracker_hooks.parse(tracker, headers=request.headers, body=body, now=now)
    if change is None:
        return JSONResponse({"applied": False, "reason": "not an issue state change"})
    delivery = tracker_hooks.delivery_id(tracker, headers=request.headers)
    with transaction(request.app.state.sessions) as session:
        if delivery and not tickets.remember(session, tracker=tracker, delivery_id=delivery, now=now):
            return JSONResponse({"applied": False, "reason": "this delivery was already received"})
        link = tickets.on_webhook(session, change=change, now=now)
    if link is None:
        return JSONResponse({"applied": False, "reason": "not a ticket commandpost created"})
    return JSONResponse({"applied": True, "status": change.status})
