"""Runbooks (guide §3): the applied runbooks with lint status and stale badges, one runbook rendered in
its fixed form, and the coverage report — the same service calls and shapes as ``/api/v1/runbooks``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from commandpost.runbooks import coverage, service
from commandpost.runbooks.document import FirstMove
from commandpost.runbooks.schemas import RunbookSummaryOut, runbook_out, summary_fields
from commandpost.web.auth import PageReader, PageRoute
from commandpost.web.render import page

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/runbooks")
def runbook_list(request: Request, ctx: PageReader) -> Response:
    app = service.applied(ctx.session)
    findings = service.lint_applied(ctx.session, app=app, now=ctx.now)
    rows = [
        RunbookSummaryOut(
            **summary_fields(
                rb,
                staleness=service.staleness_of(app, rb, ctx.now),
                findings=findings[slug],
                pointed_by=service.pointers(app.config.services, slug),
                base_url=app.config.settings.runbook_base_url,
            )
        )
        for slug, rb in sorted(app.runbooks.items())
    ]
    report = coverage.from_database(ctx.session, now=ctx.now).to_dict()
    return page(request, "runbooks.html", nav="runbooks", runbooks=rows, coverage=report)


@router.get("/runbooks/coverage")
def runbook_coverage(request: Request, ctx: PageReader, days: int = coverage.DEFAULT_DAYS) -> Response:
    report = coverage.from_database(ctx.session, now=ctx.now, days=days).to_dict()
    return page(request, "runbook_coverage.html", nav="runbooks", coverage=report)


@router.get("/runbooks/{slug}")
def runbook_page(request: Request, slug: str, ctx: PageReader) -> Response:
    app = service.applied(ctx.session)
    runbook = app.get(slug)
    findings = service.lint_applied(ctx.session, app=app, now=ctx.now)[slug]
    view = runbook_out(
        runbook,
        staleness=service.staleness_of(app, runbook, ctx.now),
        findings=findings,
        pointed_by=service.pointers(app.config.services, slug),
        incidents=service.incidents_using(ctx.session, slug=slug),
        base_url=app.config.settings.runbook_base_url,
    )
    move = view.first_move
    return page(
        request,
        "runbook.html",
        nav="runbooks",
        rb=view,
        # the step's words without its "First move:" label
        first_move_text=FirstMove(move.step_id, move.text, move.command).words if move else "",
    )
